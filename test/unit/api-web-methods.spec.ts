import ApiGateway from "moleculer-web";
import { webMethods } from "../../services/api/web-methods";

/** The gateway overrides and calls these of moleculer-web: an upgrade that reshapes one fails here. */
describe("moleculer-web's methods the gateway builds on (services/api/web-methods.ts)", () => {
  it("when the module loads, then each is moleculer-web's own function, taking the arguments we pass", () => {
    expect(webMethods.httpHandler).toBe(ApiGateway.methods?.httpHandler);
    expect(webMethods.callAction).toBe(ApiGateway.methods?.callAction);
    expect(webMethods.sendResponse).toBe(ApiGateway.methods?.sendResponse);
    expect(webMethods.parseQueryString).toBe(ApiGateway.methods?.parseQueryString);
    expect(webMethods.httpHandler.length).toBe(3);
    expect(webMethods.callAction.length).toBe(6);
    expect(webMethods.sendResponse.length).toBe(4);
    expect(webMethods.parseQueryString.length).toBe(1);
  });
});
