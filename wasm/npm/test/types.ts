// Type-checked by `cargo xtask wasm` (tsc, strict) against the installed package: the calls a
// TypeScript user writes compile, and the mistakes marked `@ts-expect-error` do not (if one
// compiled, tsc would report the unused directive).
import init, {
  Client,
  connect,
  connectDuplex,
  type Arg,
  type ConnectionError,
  type Duplex,
  type Handle,
  type Pipeline,
  type RedisError,
  type Stats,
} from "redpipe-wasm";
import { tcp } from "redpipe-wasm/net";
import initSubscriber, { subscribe, type Message, type Subscriber } from "redpipe-wasm/subscribe";
import { streams, type StreamSocket } from "redpipe-wasm/streams";

export async function browserPage(): Promise<number> {
  await init();
  const client: Client = await connect("wss://bridge.example", "token", { resp3: true, maxFrame: 1 << 16 });
  const p: Pipeline = client.pipeline();
  const n: Handle<number> = p.incr("counter");
  const v: Handle<string | null> = p.get("key");
  const pong: Handle<unknown> = p.command("PING");
  const fields = p.command<Record<string, string>>("HGETALL", "h");
  const script: Handle<number> = p.eval<number>("return 1", ["k"], [1, "a", 2n, true, new Uint8Array(1)]);
  const bare = p.eval("return 1");
  const args: Arg[] = ["a", 1];
  p.command("DEL", args);
  // @ts-expect-error: arguments are Args, not objects
  p.command("SET", { k: "v" });
  // @ts-expect-error: eval's keys are Args, not objects
  p.eval("return 1", [{}]);
  // @ts-expect-error: a command name is a string
  p.command(42);
  // @ts-expect-error: clients come from connect() and connectDuplex()
  new Client();
  const sum = p.onExecute(() => n.result + 1);
  const kept = await client.autoexec(p, (q) => q.incr("x"));
  const h = await client.autoexec(null, async (q) => q.get("y"));
  try {
    await p.execute();
  } catch (e) {
    const c = e as ConnectionError;
    const code: number | undefined = c.code;
    const reason: string | undefined = c.reason;
    const name: "ConnectionError" = c.name;
    console.log(code, reason, name, c.message);
  }
  try {
    void v.result;
  } catch (e) {
    const r = e as RedisError;
    const code: string = r.code;
    console.log(code);
  }
  const stats: Stats = client.stats();
  console.log(pong.result, fields.result, script.result, bare.result, kept.result, h.result, stats.pipelines);
  return sum.result;
}

export async function edge(): Promise<void> {
  const direct = await connectDuplex(tcp(6379), { password: "secret", db: 1 });
  const duplex: () => Promise<Duplex & { socket: StreamSocket }> = streams(() => ({
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
    close() {},
  }));
  const viaStreams = await connectDuplex(duplex);
  await direct.connectDuplex("second", tcp(6380));
  direct.pipeline().on("second", (q) => q.ping());
  direct.close();
  viaStreams.close();
}

export async function listen(): Promise<string> {
  await initSubscriber();
  const sub: Subscriber = await subscribe("wss://bridge.example", "token", { channels: ["a"], patterns: ["b:*"] });
  await sub.psubscribe("c:*");
  // @ts-expect-error channel names are strings
  await sub.subscribe(1);
  const dropped: number = sub.dropped;
  const gaps: number = sub.gaps;
  sub.ongap = () => console.log("reconnected");
  for await (const m of sub) {
    const message: Message = m;
    const bytes: Uint8Array = message.bytes;
    return (m.pattern ?? m.message) + bytes.length + dropped + gaps;
  }
  sub.close();
  return "";
}
