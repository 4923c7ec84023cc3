import { Errors } from "moleculer";
import { lostWithNode, retryIdempotent } from "../../services/api/idempotent-retry";

describe("retrying a request that carries an Idempotency-Key", () => {
  test("when the node handling it vanished, then it is sent again and the second answer is returned", async () => {
    const attempts: number[] = [];
    const result = await retryIdempotent(
      async n => {
        attempts.push(n);
        if (n === 0)
          throw new Errors.RequestRejectedError({ action: "progress.submitAttempt", nodeID: "p2" });
        return "graded";
      },
      { delayMs: 1 },
    );
    expect(result).toBe("graded");
    expect(attempts).toEqual([0, 1]);
  });

  test("when the service answered with an error of its own, then it is not repeated", async () => {
    let calls = 0;
    const failure = new Errors.MoleculerClientError("no", 404, "LESSON_NOT_FOUND");
    await expect(
      retryIdempotent(
        async () => {
          calls++;
          throw failure;
        },
        { delayMs: 1 },
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  test("when every node keeps vanishing, then it gives up after the allowed repeats", async () => {
    let calls = 0;
    await expect(
      retryIdempotent(
        async () => {
          calls++;
          throw new Errors.ServiceNotAvailableError({ action: "x" });
        },
        { delayMs: 1, retries: 2 },
      ),
    ).rejects.toBeInstanceOf(Errors.ServiceNotAvailableError);
    expect(calls).toBe(3);
  });

  test("when a call timed out, then it is not a lost node (the work may still be running)", () => {
    expect(lostWithNode(new Errors.RequestTimeoutError({ action: "x", nodeID: "n" }))).toBe(false);
    expect(lostWithNode(new Errors.RequestRejectedError({ action: "x", nodeID: "n" }))).toBe(true);
  });
});
