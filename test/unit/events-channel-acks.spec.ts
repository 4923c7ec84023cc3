import type { ConsumeMessage } from "amqplib";
import { ChannelAcks } from "../../lib/events/amqp-transport";

/**
 * The acks of a consumer channel (lib/events/amqp-transport.ts): what one turn settles goes
 * out as one `multiple` ack where that acks nothing else, alone where it would.
 */

function delivery(deliveryTag: number): ConsumeMessage {
  return {
    content: Buffer.from("{}"),
    fields: {
      deliveryTag,
      redelivered: false,
      exchange: "ns.events",
      routingKey: "user.updated",
      consumerTag: "ctag",
    },
    properties: {
      contentType: "application/json",
      contentEncoding: undefined,
      headers: {},
      deliveryMode: 2,
      priority: undefined,
      correlationId: undefined,
      replyTo: undefined,
      expiration: undefined,
      messageId: undefined,
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
    },
  };
}

/** A channel that writes down the frames it would send: "ack 3", "ack ≤7", "nack 2". */
function recordingChannel() {
  const frames: string[] = [];
  return {
    frames,
    ack(msg: ConsumeMessage, allUpTo?: boolean) {
      frames.push(`${allUpTo ? "ack ≤" : "ack "}${msg.fields.deliveryTag}`);
    },
    nack(msg: ConsumeMessage, allUpTo?: boolean, requeue?: boolean) {
      frames.push(
        `nack ${msg.fields.deliveryTag}${allUpTo ? " multiple" : ""}${requeue ? "" : " drop"}`,
      );
    },
  };
}

const turnEnds = () => new Promise(resolve => setImmediate(resolve));

function delivered(acks: ChannelAcks, count: number): ConsumeMessage[] {
  const msgs = Array.from({ length: count }, (_, i) => delivery(i + 1));
  for (const msg of msgs) acks.delivered(msg);
  return msgs;
}

test("when a batch of 250 deliveries is settled in one turn, then one multiple ack names the last of them", async () => {
  const channel = recordingChannel();
  const acks = new ChannelAcks(channel);
  const msgs = delivered(acks, 250);

  for (const msg of msgs) acks.ack(msg);
  expect(channel.frames).toEqual([]);
  await turnEnds();

  expect(channel.frames).toEqual(["ack ≤250"]);
});

test("when a later delivery is settled while an earlier one is still handled, then it is acked alone and the earlier one is not acked", async () => {
  const channel = recordingChannel();
  const acks = new ChannelAcks(channel);
  const [first, second, third, fourth] = delivered(acks, 4);

  acks.ack(first);
  acks.ack(third);
  acks.ack(fourth);
  await turnEnds();
  expect(channel.frames).toEqual(["ack ≤1", "ack 3", "ack 4"]);

  // The one left open settles: nothing acked already is named again.
  acks.ack(second);
  await turnEnds();
  expect(channel.frames).toEqual(["ack ≤1", "ack 3", "ack 4", "ack ≤2"]);
});

test("when a delivery is requeued, then its nack goes at once and no multiple ack names it", async () => {
  const channel = recordingChannel();
  const acks = new ChannelAcks(channel);
  const [first, second, third] = delivered(acks, 3);

  acks.ack(first);
  acks.requeue(third);
  expect(channel.frames).toEqual(["nack 3"]);
  acks.ack(second);
  await turnEnds();

  expect(channel.frames).toEqual(["nack 3", "ack ≤2"]);
});

test("when the channel is about to close, then flush sends the owed acks without waiting for the turn to end", () => {
  const channel = recordingChannel();
  const acks = new ChannelAcks(channel);
  const msgs = delivered(acks, 3);

  for (const msg of msgs) acks.ack(msg);
  acks.flush();

  expect(channel.frames).toEqual(["ack ≤3"]);
});

test("when the channel died before the acks went out, then flushing them throws nothing", async () => {
  const acks = new ChannelAcks({
    ack() {
      throw new Error("Channel closed");
    },
    nack() {
      throw new Error("Channel closed");
    },
  });
  const [first, second] = delivered(acks, 2);

  acks.requeue(first);
  acks.ack(second);
  await turnEnds();
  expect(() => acks.flush()).not.toThrow();
});
