// The lab's built-in container image "fairway/echo" and its probe client, in
// one dependency-free file (node: modules only) that the lab runs as a real
// process inside pods (and on the router, as "the outside"):
//
//   serve [--tcp PORT]... [--udp PORT]...   TCP: an HTTP request gets one line
//                                           naming this pod; anything else is
//                                           echoed back. UDP: datagrams echoed.
//   pause                                   does nothing until SIGTERM.
//   probe                                   JSON lines on stdin, one probe each
//                                           ({id, proto: tcp|http|udp, host,
//                                           port, timeoutMs}), a JSON line per
//                                           result on stdout: lab check's client.
import { createSocket } from "node:dgram";
import { createServer, connect as tcpConnect } from "node:net";
import { createInterface } from "node:readline";

export interface ProbeRequest {
  id: number;
  proto: "tcp" | "http" | "udp";
  host: string;
  port: number;
  timeoutMs: number;
}

export interface ProbeResult {
  id: number;
  ok: boolean;
  ms: number;
  /** the first line of the answer (http: of the body) */
  reply?: string;
  error?: string;
}

const env = process.env;
const who = () =>
  `${env.POD_NAME ?? "?"} (${env.POD_NAMESPACE ?? "-"}, ${env.POD_IP ?? "?"} on ${env.NODE_NAME ?? "?"})`;

function serve(args: string[]): void {
  const tcp: number[] = [];
  const udp: number[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const port = Number(args[i + 1]);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`bad port after ${args[i]}`);
    if (args[i] === "--tcp") tcp.push(port);
    else if (args[i] === "--udp") udp.push(port);
    else throw new Error(`unknown option ${args[i]} (use --tcp PORT, --udp PORT)`);
  }
  for (const port of tcp) {
    const server = createServer((s) => {
      s.on("error", () => {});
      s.once("data", (first) => {
        const text = first.toString("latin1");
        if (/^(GET|HEAD|POST|PUT|DELETE|OPTIONS) \S+ HTTP\/1\.[01]\r?\n/.test(text)) {
          const body = `hello from ${who()}, you are ${s.remoteAddress}:${s.remotePort}\n`;
          s.end(
            `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${text.startsWith("HEAD") ? "" : body}`,
          );
          return;
        }
        s.write(first);
        s.pipe(s);
      });
    });
    server.listen(port, "0.0.0.0", () => console.log(`listening on tcp ${port}`));
  }
  for (const port of udp) {
    const sock = createSocket("udp4");
    sock.on("message", (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    sock.bind(port, "0.0.0.0", () => console.log(`listening on udp ${port}`));
  }
}

function finish(done: (r: Omit<ProbeResult, "id" | "ms">) => void, timeoutMs: number) {
  let over = false;
  const timer = setTimeout(
    () => end({ ok: false, error: `timed out after ${timeoutMs} ms` }),
    timeoutMs,
  );
  function end(r: Omit<ProbeResult, "id" | "ms">): void {
    if (over) return;
    over = true;
    clearTimeout(timer);
    done(r);
  }
  return end;
}

function probeTcp(req: ProbeRequest, done: (r: Omit<ProbeResult, "id" | "ms">) => void): void {
  const end = finish(done, req.timeoutMs);
  const nonce = `ping ${process.pid}-${req.id}\n`;
  const s = tcpConnect({ host: req.host, port: req.port });
  let got = "";
  s.on("error", (e: NodeJS.ErrnoException) => end({ ok: false, error: e.code ?? e.message }));
  s.on("connect", () =>
    s.write(req.proto === "http" ? `GET / HTTP/1.0\r\nHost: ${req.host}\r\n\r\n` : nonce),
  );
  s.on("data", (d) => {
    got += d.toString("latin1");
    if (req.proto === "tcp" && got.length >= nonce.length) {
      s.destroy();
      end(
        got.startsWith(nonce)
          ? { ok: true, reply: got.trim() }
          : { ok: false, error: `echo mismatch: ${got.trim()}` },
      );
    }
  });
  s.on("end", () => {
    if (req.proto !== "http") return end({ ok: false, error: "closed before the echo" });
    const [head, body = ""] = got.split("\r\n\r\n");
    const status = head?.split("\r\n")[0] ?? "";
    end(
      / 200 /.test(status)
        ? { ok: true, reply: body.split("\n")[0] }
        : { ok: false, error: `answer: ${status || "(none)"}` },
    );
  });
}

function probeUdp(req: ProbeRequest, done: (r: Omit<ProbeResult, "id" | "ms">) => void): void {
  const sock = createSocket("udp4");
  const nonce = Buffer.from(`ping ${process.pid}-${req.id}`);
  let retry: NodeJS.Timeout | undefined;
  const end = finish((r) => {
    clearInterval(retry);
    sock.close();
    done(r);
  }, req.timeoutMs);
  sock.on("error", (e: NodeJS.ErrnoException) => end({ ok: false, error: e.code ?? e.message }));
  sock.on("message", (msg) => {
    if (msg.equals(nonce)) end({ ok: true, reply: msg.toString() });
  });
  const send = () => sock.send(nonce, req.port, req.host);
  send();
  retry = setInterval(send, 250);
}

function probe(): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const req = JSON.parse(line) as ProbeRequest;
    const t0 = performance.now();
    const done = (r: Omit<ProbeResult, "id" | "ms">) => {
      const out: ProbeResult = {
        id: req.id,
        ms: Math.round((performance.now() - t0) * 100) / 100,
        ...r,
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    };
    if (req.proto === "udp") probeUdp(req, done);
    else probeTcp(req, done);
  });
  rl.on("close", () => process.exit(0));
}

export function main(argv: string[]): void {
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
  const [mode = "serve", ...rest] = argv;
  if (mode === "serve") serve(rest.length > 0 ? rest : ["--tcp", "8080", "--udp", "8080"]);
  else if (mode === "probe") probe();
  else if (mode === "pause") setInterval(() => {}, 1 << 30);
  else {
    console.error(`fairway pod server: unknown mode "${mode}" (serve, pause, probe)`);
    process.exit(2);
  }
}
