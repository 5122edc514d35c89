import zlib from "node:zlib";

/**
 * WebSocket frames after an allowed upgrade, inspected one message at a time before they
 * are passed on: frames are parsed (RFC 6455), unmasked, fragments joined, and messages
 * compressed with permessage-deflate (RFC 7692) are inflated with one inflater per
 * direction (so context takeover works). A message is forwarded, as the original frames,
 * only after `inspect` passed it; a message larger than `maxMessageBytes` (compressed or
 * not) cannot be inspected and blocks.
 */
export interface FrameRelayOptions {
  /** permessage-deflate was negotiated (the upstream's `sec-websocket-extensions` answer). */
  deflate: boolean;
  maxMessageBytes: number;
  /** A reason to block the message (and the connection), or undefined to pass it. */
  inspect(payload: Buffer, opcode: number): string | undefined;
  /** Receives the original frame bytes of passed messages, in order. */
  forward(frames: Buffer): void;
  /** Called once, with the reason, when a message is blocked; nothing more is forwarded. */
  block(reason: string): void;
}

export interface FrameRelay {
  push(chunk: Buffer): void;
}

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

interface Frame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
  raw: Buffer;
}

export function createFrameRelay(options: FrameRelayOptions): FrameRelay {
  let pending: Buffer = Buffer.alloc(0);
  let blocked = false;
  let chain: Promise<void> = Promise.resolve();
  // The current (possibly fragmented) data message.
  let message: { opcode: number; compressed: boolean; raw: Buffer[]; payload: Buffer[]; size: number } | undefined;
  let inflater: zlib.InflateRaw | undefined;

  const stop = (reason: string) => {
    if (blocked) return;
    blocked = true;
    pending = Buffer.alloc(0);
    options.block(reason);
  };

  const inflate = (data: Buffer): Promise<Buffer | undefined> =>
    new Promise((resolve) => {
      inflater ??= zlib.createInflateRaw();
      const z = inflater;
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > options.maxMessageBytes) over = true;
        else chunks.push(c);
      };
      const onError = () => {
        z.off("data", onData);
        resolve(undefined);
      };
      z.on("data", onData);
      z.once("error", onError);
      z.write(Buffer.concat([data, DEFLATE_TAIL]));
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.off("data", onData);
        z.off("error", onError);
        resolve(over ? Buffer.alloc(options.maxMessageBytes + 1) : Buffer.concat(chunks));
      });
    });

  const handle = async (frame: Frame): Promise<void> => {
    if (blocked) return;
    if (frame.opcode >= 0x8) {
      // Control frames (close, ping, pong) are never fragmented or compressed.
      const reason = options.inspect(frame.payload, frame.opcode);
      if (reason) return stop(reason);
      return options.forward(frame.raw);
    }
    if (frame.opcode !== 0x0) {
      if (message) return stop("websocket-protocol");
      message = { opcode: frame.opcode, compressed: options.deflate && frame.rsv1, raw: [], payload: [], size: 0 };
    } else if (!message) {
      return stop("websocket-protocol");
    }
    message.raw.push(frame.raw);
    message.payload.push(frame.payload);
    message.size += frame.payload.length;
    if (message.size > options.maxMessageBytes) return stop("websocket-message-too-large");
    if (!frame.fin) return;
    const done = message;
    message = undefined;
    let payload: Buffer = Buffer.concat(done.payload);
    if (done.compressed) {
      const inflated = await inflate(payload);
      if (!inflated) return stop("websocket-bad-deflate");
      if (inflated.length > options.maxMessageBytes) return stop("websocket-message-too-large");
      payload = inflated;
    }
    const reason = options.inspect(payload, done.opcode);
    if (reason) return stop(reason);
    options.forward(Buffer.concat(done.raw));
  };

  return {
    push(chunk) {
      if (blocked) return;
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const frame = parseFrame(pending);
        if (frame === "incomplete") break;
        if (frame === "too-large") return stop("websocket-message-too-large");
        pending = pending.subarray(frame.raw.length);
        if (frame.payload.length > options.maxMessageBytes) return stop("websocket-message-too-large");
        chain = chain.then(() => handle(frame));
      }
      if (pending.length > options.maxMessageBytes + 14) stop("websocket-message-too-large");
    },
  };
}

function parseFrame(buf: Buffer): Frame | "incomplete" | "too-large" {
  if (buf.length < 2) return "incomplete";
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return "incomplete";
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return "incomplete";
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big > 1n << 40n) return "too-large";
    length = Number(big);
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const maskAt = offset;
  if (masked) offset += 4;
  if (buf.length < offset + length) return "incomplete";
  let payload = buf.subarray(offset, offset + length);
  if (masked) {
    const mask = buf.subarray(maskAt, maskAt + 4);
    const unmasked = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) unmasked[i] = payload[i]! ^ mask[i & 3]!;
    payload = unmasked;
  }
  return { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload, raw: buf.subarray(0, offset + length) };
}
