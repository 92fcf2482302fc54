#!/usr/bin/env python3
"""The proxy benchmark: direct to the mock upstream vs through a generated
gateway vs through nginx, in one run, plus gateway rebuild time and the matcher
micro-benchmark. Called by bench/run.sh after it has installed nginx and wrk
and built the release binaries; prints a results table and writes
bench/results/<date>.md and the results section of bench/README.md.

Pinning (2-core machine): for CPU per request the proxy runs alone on core 0
while the mock and wrk share core 1; for latency and time to first token
everything runs on core 0, because crossing cores here adds ~2 ms of noise.
Every measurement is repeated and the median kept; targets are judged on
numbers from this one run.
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODELINE = "# yaml-language-server: $schema={}/schema/gatesmith.schema.json\n"

PROCESSES = []


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on port {port} within {timeout}s")


def start(argv, what: str, port: int, log_path: str, env=None) -> subprocess.Popen:
    log(f"start {what}: {' '.join(argv)}")
    out = open(log_path, "w")
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    PROCESSES.append(process)
    wait_for_port(port, process, what)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pin(pid: int, cpus: str) -> None:
    """Re-pin every thread of a running process."""
    subprocess.run(["taskset", "-a", "-cp", cpus, str(pid)], check=True, stdout=subprocess.DEVNULL)


def process_tree(pid: int) -> list:
    """The pid and its direct children (nginx: master plus worker)."""
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_kib(pids) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class RssSampler(threading.Thread):
    """Max RSS of a process tree, sampled every 50 ms while a load runs."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids
        self.max_kib = rss_kib(pids)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.max_kib = max(self.max_kib, rss_kib(self.pids))

    def finish(self) -> int:
        self.done.set()
        self.join()
        return self.max_kib


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def wrk(port: int, cpus: str, connections: int, seconds: int, latency: bool = False) -> dict:
    argv = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
            "-s", os.path.join(BENCH, "chat.lua")]
    if latency:
        argv.append("--latency")
    argv.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors or requests == 0:
        raise SystemExit(f"wrk against port {port} saw errors:\n{out}")
    result = {"requests": requests, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    if latency:
        result["p50_ms"] = parse_duration_ms(re.search(r"\n\s+50%\s+(\S+)", out).group(1))
    return result


def write_bench_spec(folder: str, gateway_port: int, mock_port: int, first_packet_ms: int) -> None:
    os.makedirs(folder, exist_ok=True)
    modeline = MODELINE.format(os.path.relpath(ROOT, folder))
    files = {
        "gateway.yaml": f"kind: Gateway\nname: bench-proxy\nlisten: 127.0.0.1:{gateway_port}\n",
        "upstream.yaml": (
            "kind: AIService\nname: upstream\nprovider: openai\n"
            f"baseUrl: http://127.0.0.1:{mock_port}\n"
        ),
        # Access logs off, as in the nginx config, so both proxies do the same work.
        "chat.yaml": (
            "kind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: openai\n"
            'domains: ["*"]\nbasePath: /\n'
            "monitoring: { metrics: true, logs: false }\n"
            "modelService:\n  single: { service: upstream }\n"
            f"firstPacketTimeoutMs: {first_packet_ms}\n"
        ),
    }
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(modeline + text)


def build_gateway(gatesmith: str, spec: str) -> tuple:
    """Runs `gatesmith build` (crate in target/gateways/<env>/, shared target
    dir); returns (seconds, path of the binary it printed)."""
    started = time.monotonic()
    result = subprocess.run([gatesmith, "build", spec], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"gatesmith build {spec} failed:\n{result.stdout}\n{result.stderr}")
    binary = result.stdout.strip().splitlines()[-1].strip()
    if not os.path.isfile(binary):
        raise SystemExit(f"gatesmith build printed {binary!r}, which is not a file")
    return elapsed, binary


def write_nginx_config(tmp: str, nginx_port: int, mock_port: int) -> str:
    path = os.path.join(tmp, "nginx.conf")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    with open(path, "w") as f:
        f.write(f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream mock {{
        server 127.0.0.1:{mock_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
""")
    return path


def median(values):
    return statistics.median(values)


def matcher_benchmark() -> dict:
    """Runs the divan benchmark pinned to core 0 and reads ns per lookup."""
    log("matcher micro-benchmark (cargo bench, pinned to core 0)")
    out = subprocess.run(
        ["taskset", "-c", "0", "cargo", "bench", "-q", "-p", "gatesmith-bench-matcher",
         "--bench", "matcher"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    print(out, file=sys.stderr)
    return parse_divan(out)


THROUGHPUT = {"item/s": 1.0, "Kitem/s": 1e3, "Mitem/s": 1e6, "Gitem/s": 1e9}


def parse_divan(out: str) -> dict:
    """ns per lookup from each benchmark's median throughput (items = lookups)."""
    result = {}
    lines = out.splitlines()
    for i, line in enumerate(lines):
        name = re.match(r"^[├╰]─ (\w+)", line)
        if not name or i + 1 >= len(lines):
            continue
        # The line below the name holds throughput: fastest, slowest, median, mean.
        cells = re.findall(r"([\d.]+) (\w*item/s)", lines[i + 1])
        if len(cells) < 3:
            raise SystemExit(f"unexpected divan output:\n{out}")
        value, unit = cells[2]
        result[name.group(1)] = 1e9 / (float(value) * THROUGHPUT[unit])
    return result


def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def machine_lines() -> list:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain"):
        commit += " (with uncommitted changes)"
    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: `{subprocess.run(['uname', '-a'], capture_output=True, text=True).stdout.strip()}`",
        f"- CPU: {cpu}, {os.cpu_count()} cores",
        f"- Commit: {commit}",
    ]


def fmt_list(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(r: dict) -> str:
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    rows = [
        "| Measurement | Direct | Gateway | nginx | Target | Result |",
        "|---|---|---|---|---|---|",
        f"| CPU per request, c=32 (µs) | – | {r['cpu_gateway']:.1f} | {r['cpu_nginx']:.1f} | gateway/nginx <= 1.5 | "
        f"ratio {r['cpu_ratio']:.2f}: {verdict(r['cpu_ratio'] <= 1.5)} |",
        f"| Throughput, c=32 (req/s, context only) | {r['rps_direct']:.0f} | {r['rps_gateway']:.0f} | {r['rps_nginx']:.0f} | – | – |",
        f"| p50 latency, c=1, one core (ms) | {r['p50_direct']:.3f} | {r['p50_gateway']:.3f} | {r['p50_nginx']:.3f} | – | – |",
        f"| Added p50 latency (ms) | – | {r['p50_added_gateway']:.3f} | {r['p50_added_nginx']:.3f} | gateway <= 0.05 | "
        f"{verdict(r['p50_added_gateway'] <= 0.05)} |",
        f"| Time to first token, SSE, median (ms) | {r['ttft_direct']:.3f} | {r['ttft_gateway']:.3f} | {r['ttft_nginx']:.3f} | – | – |",
        f"| Added time to first token (ms) | – | {r['ttft_added_gateway']:.3f} | {r['ttft_added_nginx']:.3f} | – | – |",
        f"| Idle RSS | – | {mib(r['rss_idle_gateway'])} | {mib(r['rss_idle_nginx'])} | gateway <= 15 MiB | "
        f"{verdict(r['rss_idle_gateway'] <= 15 * 1024)} |",
        f"| Max RSS under load, c=32 | – | {mib(r['rss_load_gateway'])} | {mib(r['rss_load_nginx'])} | – | – |",
        f"| Gateway rebuild after a one-line spec edit (s) | – | {r['rebuild_s']:.1f} | – | < 20 s | {verdict(r['rebuild_s'] < 20)} |",
    ]
    if "matcher_generated" in r:
        rows.append(
            f"| Route lookup, 200 routes (ns) | – | generated {r['matcher_generated']:.1f} | matchit {r['matcher_matchit']:.1f} | "
            f"matchit/generated >= 3 | ratio {r['matcher_ratio']:.2f}: {verdict(r['matcher_ratio'] >= 3)} |"
        )
    notes = [
        "",
        f"nginx {r['nginx_version']}, wrk {r['wrk_version']}. Medians of {r['reps']} runs; "
        f"c=32 runs last {r['load_seconds']} s, c=1 runs {r['latency_seconds']} s, "
        f"time to first token over {r['ttft_requests']} sequential streams per run. "
        f"First `gatesmith build` of the bench spec in this run: {r['first_build_s']:.1f} s "
        "(its crate may be cached from an earlier run).",
        "Nginx columns are sums over its master and worker processes. Ratios and added times are "
        "medians of per-run values (each run measures direct, gateway and nginx back to back).",
        f"Per-run CPU µs/request: gateway {fmt_list(r['cpu_runs_gateway'])}, nginx {fmt_list(r['cpu_runs_nginx'])}.",
    ]
    return "\n".join(rows + notes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gatesmith", default=os.path.join(ROOT, "target/release/gatesmith"))
    parser.add_argument("--mock", default=os.path.join(ROOT, "target/release/gatesmith-mock"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--load-seconds", type=int, default=5)
    parser.add_argument("--latency-seconds", type=int, default=3)
    parser.add_argument("--ttft-requests", type=int, default=200)
    parser.add_argument("--skip-matcher", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave README and results alone")
    args = parser.parse_args()

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="gatesmith-bench-")
    mock_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    r = {"reps": args.reps, "load_seconds": args.load_seconds,
         "latency_seconds": args.latency_seconds, "ttft_requests": args.ttft_requests}
    try:
        spec = os.path.join(tmp, "spec")
        write_bench_spec(spec, gateway_port, mock_port, 3000)
        log(f"gatesmith build {spec}")
        r["first_build_s"], gateway_bin = build_gateway(args.gatesmith, spec)

        mock = start(["taskset", "-c", "1", args.mock, "--listen", f"127.0.0.1:{mock_port}",
                      "--workers", "1", "--chunks", "8", "--chunk-delay-ms", "1"],
                     "mock", mock_port, os.path.join(tmp, "mock.log"))
        env = dict(os.environ, GATESMITH_WORKERS="1")
        gateway = start(["taskset", "-c", "0", gateway_bin, "--listen", f"127.0.0.1:{gateway_port}"],
                        "gateway", gateway_port, os.path.join(tmp, "gateway.log"), env=env)
        nginx_conf = write_nginx_config(tmp, nginx_port, mock_port)
        nginx = start(["taskset", "-c", "0", "nginx", "-p", tmp, "-c", nginx_conf, "-e",
                       os.path.join(tmp, "nginx-error.log")],
                      "nginx", nginx_port, os.path.join(tmp, "nginx.log"))
        time.sleep(0.5)
        gateway_pids, nginx_pids = [gateway.pid], process_tree(nginx.pid)
        # taskset execs the program, so these pids are the programs themselves.
        r["rss_idle_gateway"] = rss_kib(gateway_pids)
        r["rss_idle_nginx"] = rss_kib(nginx_pids)

        targets = {"direct": (mock_port, None), "gateway": (gateway_port, gateway_pids),
                   "nginx": (nginx_port, nginx_pids)}

        log("phase 1: CPU per request at c=32 (proxy on core 0; mock and wrk on core 1)")
        for name, (port, _) in targets.items():
            wrk(port, "1", 32, 1)  # warm-up: connections, pools, caches
        cpu = {"gateway": [], "nginx": []}
        rps = {name: [] for name in targets}
        rss_load = {"gateway": 0, "nginx": 0}
        for rep in range(args.reps):
            for name, (port, pids) in targets.items():
                sampler = RssSampler(pids) if pids else None
                if sampler:
                    sampler.start()
                    before = cpu_seconds(pids)
                result = wrk(port, "1", 32, args.load_seconds)
                rps[name].append(result["rps"])
                if sampler:
                    used = cpu_seconds(pids) - before
                    rss_load[name] = max(rss_load[name], sampler.finish())
                    cpu[name].append(used * 1e6 / result["requests"])
                log(f"  run {rep + 1} {name}: {result['rps']:.0f} req/s"
                    + (f", {cpu[name][-1]:.1f} µs CPU/request" if pids else ""))
        for name in targets:
            r[f"rps_{name}"] = median(rps[name])
        r["cpu_gateway"], r["cpu_nginx"] = median(cpu["gateway"]), median(cpu["nginx"])
        r["cpu_runs_gateway"], r["cpu_runs_nginx"] = cpu["gateway"], cpu["nginx"]
        # Runs are interleaved, so each run's pair saw the same machine state:
        # the median of per-run ratios resists drift better than a ratio of medians.
        r["cpu_ratio"] = median([g / n for g, n in zip(cpu["gateway"], cpu["nginx"])])
        r["rss_load_gateway"], r["rss_load_nginx"] = rss_load["gateway"], rss_load["nginx"]

        log("phase 2: p50 latency at c=1, everything on core 0")
        pin(mock.pid, "0")
        p50 = {name: [] for name in targets}
        for rep in range(args.reps):
            for name, (port, _) in targets.items():
                p50[name].append(wrk(port, "0", 1, args.latency_seconds, latency=True)["p50_ms"])
                log(f"  run {rep + 1} {name}: p50 {p50[name][-1]:.3f} ms")
        for name in targets:
            r[f"p50_{name}"] = median(p50[name])
        for proxy in ("gateway", "nginx"):
            r[f"p50_added_{proxy}"] = median([p - d for p, d in zip(p50[proxy], p50["direct"])])

        log("phase 3: time to first token (SSE), everything on core 0")
        ttft = {name: [] for name in targets}
        for rep in range(args.reps):
            for name, (port, _) in targets.items():
                out = subprocess.run(
                    ["taskset", "-c", "0", sys.executable, os.path.join(BENCH, "ttft.py"),
                     str(port), str(args.ttft_requests)],
                    check=True, capture_output=True, text=True).stdout
                ttft[name].append(float(out))
                log(f"  run {rep + 1} {name}: {ttft[name][-1]:.3f} ms")
        for name in targets:
            r[f"ttft_{name}"] = median(ttft[name])
        for proxy in ("gateway", "nginx"):
            r[f"ttft_added_{proxy}"] = median([p - d for p, d in zip(ttft[proxy], ttft["direct"])])

        for process in (gateway, nginx, mock):
            stop(process)

        log("phase 4: rebuild after a one-line spec edit (firstPacketTimeoutMs)")
        rebuilds = []
        for rep in range(args.reps):
            # Untimed: bring everything else (e.g. a runtime another engineer
            # just edited) up to date, so only the spec edit is timed.
            build_gateway(args.gatesmith, spec)
            write_bench_spec(spec, gateway_port, mock_port, 3001 + rep)
            before = os.stat(gateway_bin).st_mtime_ns
            seconds, binary = build_gateway(args.gatesmith, spec)
            # A fast "rebuild" that produced nothing new would be a false result.
            if binary != gateway_bin or os.stat(binary).st_mtime_ns == before:
                raise SystemExit("gatesmith build did not rebuild the gateway after a spec edit")
            rebuilds.append(seconds)
            log(f"  run {rep + 1}: {rebuilds[-1]:.1f} s")
        r["rebuild_s"] = median(rebuilds)

        r["nginx_version"] = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
        r["wrk_version"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
        if not args.skip_matcher:
            matcher = matcher_benchmark()
            r["matcher_generated"], r["matcher_matchit"] = matcher["generated"], matcher["matchit"]
            r["matcher_ratio"] = r["matcher_matchit"] / r["matcher_generated"]
    finally:
        for process in PROCESSES:
            stop(process)
        shutil.rmtree(tmp, ignore_errors=True)

    log(f"measuring took {time.monotonic() - started:.0f} s")
    report = "\n".join(machine_lines()) + "\n\n" + render(r) + "\n"
    print(report)
    if not args.no_write:
        write_results(report)


def write_results(report: str) -> None:
    day = datetime.date.today().isoformat()
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    path = os.path.join(BENCH, "results", f"{day}.md")
    with open(path, "w") as f:
        f.write(f"# Benchmark results, {day}\n\nWritten by `bench/run.sh`.\n\n{report}")
    readme = os.path.join(BENCH, "README.md")
    with open(readme) as f:
        text = f.read()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        with open(readme, "w") as f:
            f.write(f"{head}{start}\n{report}{end}{tail}")
    log(f"wrote {os.path.relpath(path, ROOT)} and the results section of bench/README.md")


if __name__ == "__main__":
    main()
