import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { plainQuery } from "../../services/api/query-string";
import { webMethods } from "../../services/api/web-methods";

/**
 * The gateway reads plain query strings itself: whatever it reads must be what moleculer-web's
 * own parser (qs) reads, and whatever is not plain goes to qs.
 */

function byQs(search: string): Record<string, unknown> {
  const req = new IncomingMessage(new Socket());
  req.url = `/leaderboard?${search}`;
  return webMethods.parseQueryString.call({ settings: {} }, req).query;
}

describe("plain query strings", () => {
  it.each([
    ["period=weekly"],
    ["period=weekly&limit=25"],
    ["scope=everyone&period=all&limit=100"],
    ["view=published"],
    ["q=a.b_c~d-e"],
    ["page="],
    ["page=2&pageSize=100"],
  ])("when the query is %s, then it reads as qs reads it", search => {
    const query = plainQuery(search);
    expect(query).toBeDefined();
    expect(query).toEqual(byQs(search));
  });

  it.each([
    [""],
    ["period"],
    ["period=weekly&"],
    ["&period=weekly"],
    ["a=1&&b=2"],
    ["limit=1&limit=2"],
    ["tag[]=x"],
    ["a[b]=c"],
    ["a.b=c"],
    ["q=hello+world"],
    ["q=%41"],
    ["q=caf\u00e9"],
    ["constructor=1"],
    ["toString=x"],
    ["__proto__=x"],
    ["hasOwnProperty=1"],
    [Array.from({ length: 17 }, (_, i) => `p${i}=1`).join("&")],
  ])("when the query is %j, then qs reads it", search => {
    expect(plainQuery(search)).toBeUndefined();
  });
});
