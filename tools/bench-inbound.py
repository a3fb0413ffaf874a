"""Inbound calls through app_queue, then through welcomedlyd, in one run.

Run by `tools/bench inbound [RATE] [SECONDS]`. One sandbox Asterisk, the same
50 agents (realtime PJSIP endpoints, registered by sipp phones spread over
several processes, answering at once with audio) and the same caller load
(RATE calls/s for SECONDS, sipp with audio, each call talking TALK_MS after
it is answered), recorded every time:

1. app_queue: `Queue(bench)` in the dialplan (rrmemory, ring
   15 s, wrap-up 0, MixMonitor through monitor-format), no daemon running;
2. welcomedlyd: a campaign with the same agents (rrmemory, ring 15 s,
   wrap-up 0; the daemon records every bridged call).

For each it reads from /proc Asterisk's CPU time (utime + stime, which keeps
the time of the threads that ended) and the daemon's (per-thread schedstat,
in ns: the daemon's threads live as long as it does) over the phase, the
daemon's peak RSS (VmHWM), and the ring latency from sipp's message logs:
the caller's INVITE sent to the agent's INVITE received, matched by the
caller's number. It prints the table and the ratios of issue 16.

With BENCH_ROUNDS=N (default 1) the two phases alternate N times in the same
run, so that the machine's drift over minutes falls on both alike: one
table row and one line of ratios per phase and round, then the median of
each ratio over the rounds. The daemon starts before the first round's
welcomedlyd phase and runs on, idle, through the app_queue phases after it.

Run by `tools/bench ceiling [SECONDS] [FROM] [STEP] [TO]`, the same two
controllers are each given FROM, FROM + STEP, ... calls/s for SECONDS until a
phase has a failed call (sipp saw no 200 to its BYE; no agent was rung: the
daemon answers at once, so its caller hangs up TALK_MS later whether an
agent came or not; or one was rung more than BENCH_RING_LIMIT_MS, default
5000, after the caller called: agents are free all along, so that is a
caller a saturated system kept waiting) or leaves calls behind; the ceiling
is the highest rate with none. Printed with it, the highest rate whose ring
latency p99 stays within BENCH_RING_P99_MS (default 100). One row per
phase: calls ok, not rung, rung late, Asterisk and controller CPU per call,
ring latency.
"""

import glob
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "integration"))
import acd  # noqa: E402
import harness  # noqa: E402
import rtp  # noqa: E402

BENCH = os.path.join(harness.SOURCE, "tools", "bench-inbound")
AGENTS = int(os.environ.get("BENCH_AGENTS", "50"))
PHONE_PROCESSES = int(os.environ.get("BENCH_PHONE_PROCESSES", "5"))
TALK_MS = int(os.environ.get("BENCH_TALK_MS", "5000"))
RING_TIMEOUT = 15
QUEUE_DID = "8999"
# "ASTERISK_CPUS:OTHERS_CPUS" for taskset (Asterisk; the daemon and sipp),
# or "none".
PIN = os.environ.get("BENCH_PIN", "0:1")
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "info")
# BENCH_PERF=1: `perf record -g` Asterisk and the daemon during each phase,
# into perf-<phase>-<process>.data of the run's log directory; any other
# value gives perf record's options instead of -g.
PERF = os.environ.get("BENCH_PERF", "")
PERF_ARGS = ["-g"] if PERF == "1" else PERF.split()
IDLE_S = 3
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
RING_LIMIT_MS = int(os.environ.get("BENCH_RING_LIMIT_MS", "5000"))
RING_P99_MS = int(os.environ.get("BENCH_RING_P99_MS", "100"))
# SIP ports of the sipp processes; their RTP from BENCH_MEDIA (default the
# sandbox's RTP start + 1000) on, laid out by media_ports().
CALLER_PORT = harness.SIP_PORT + 10
PHONE_PORT = harness.SIP_PORT + 20
MEDIA = int(os.environ.get("BENCH_MEDIA", harness.RTP_START + 1000))


def media_ports(calls):
    """(the caller's base, the first phone process's base, the distance
    between phone processes) for a phase of `calls` calls: sipp gives call n
    of a process the ports base + 4 x (n - 1)."""
    spacing = 4 * -(-calls // PHONE_PROCESSES) + 8
    return MEDIA, MEDIA + 4 * calls + 100, spacing


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def pin(pid, which):
    if PIN == "none":
        return
    cpus = PIN.split(":")[0 if which == "asterisk" else 1]
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True,
                   stdout=subprocess.DEVNULL)


def taskset_prefix():
    return [] if PIN == "none" else ["taskset", "-c", PIN.split(":")[1]]


# -- /proc -----------------------------------------------------------------------

def cpu_ticks(pid):
    """utime + stime of the whole process in clock ticks, ended threads included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """CPU time of the process's live threads, in ns (schedstat)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def status_kb(pid, *keys):
    """Fields of /proc/PID/status, in KB, read at once."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    return [int(re.search(rf"{k}:\s+(\d+)", text).group(1)) for k in keys]


def rss_split_mb(pid):
    """(anonymous, file-backed) resident memory now, in MB: the pages of
    the shared libraries count whole in RSS, whoever else maps them."""
    return tuple(kb / 1024 for kb in status_kb(pid, "RssAnon", "RssFile"))


# -- Asterisk's own queue --------------------------------------------------------

def cli(command):
    subprocess.run([os.path.join(harness.TOOLS, "sandbox-asterisk"), "cli", "--name",
                    harness.SANDBOX, "--", command], check=True,
                   stdout=subprocess.DEVNULL)


def app_queue_setup(users):
    """Queue `bench` with the agents' phones and the DID QUEUE_DID that enters
    it, added to the rendered instance (a restart of the sandbox drops them).
    Asterisk keeps realtime PJSIP endpoints whose contacts are not qualified
    `Unavailable` in device state, and app_queue never rings those: each
    member's state comes from a custom device set to NOT_INUSE instead. At
    the bench's load rrmemory comes back to an agent long after their call
    ended, so the busy state the queue then does not see changes nothing."""
    members = "".join(f"member => PJSIP/{u},0,{u},Custom:{u}\n" for u in users)
    with open(os.path.join(acd.INSTANCE, "etc", "queues.conf"), "w") as f:
        f.write("[general]\npersistentmembers = no\n\n[bench]\nstrategy = rrmemory\n"
                f"timeout = {RING_TIMEOUT}\nretry = 1\nwrapuptime = 0\nringinuse = no\n"
                "joinempty = yes\nleavewhenempty = no\nmonitor-format = wav\n" + members)
    with open(os.path.join(acd.INSTANCE, "etc", "extensions.conf"), "a") as f:
        # No Answer(): it waits up to 500 ms for the caller's first RTP.
        f.write(f"\n[welcomedly-inbound](+)\nexten => {QUEUE_DID},1,Queue(bench)\n"
                " same => n,Hangup()\n")
    commands = ["module load func_devstate.so", "module load app_mixmonitor.so"]
    commands += [f"devstate change Custom:{u} NOT_INUSE" for u in users]
    commands += ["module load app_queue.so", "dialplan reload", "queue reload all"]
    for command in commands:
        cli(command)


# -- sipp ------------------------------------------------------------------------

def audio_file(workdir):
    """One second of a 400 Hz tone, raw mu-law, for sipp's rtp_stream."""
    import math
    data = bytes(rtp.ulaw(int(8000 * math.sin(2 * math.pi * 400 * i / 8000)))
                 for i in range(8000))
    with open(os.path.join(workdir, "audio.ulaw"), "wb") as f:
        f.write(data)


def register(agents):
    """Registers agent i from the phone process i % PHONE_PROCESSES's port."""
    for i, (_, user, pw) in enumerate(agents):
        port = PHONE_PORT + i % PHONE_PROCESSES
        # On a loaded machine the first REGISTER's retransmission can get
        # its own 401 after the challenge was answered: sipp then fails the
        # call although Asterisk took the registration. Again, then.
        for _ in range(3):
            res = harness.sipp("register.xml", "-s", user, "-au", user, "-ap", pw,
                               local_port=port)
            if res.returncode == 0:
                break
        if res.returncode != 0:
            raise AssertionError(f"REGISTER {user} failed: {res.stdout}{res.stderr}")


def phones_start(workdir, label, calls):
    procs = []
    _, base, spacing = media_ports(calls)
    for i in range(PHONE_PROCESSES):
        log = os.path.join(workdir, f"{label}-phone{i}")
        procs.append(subprocess.Popen(
            taskset_prefix() + [
                "sipp", "-sf", os.path.join(BENCH, "uas-stream.xml"),
                "-p", str(PHONE_PORT + i), "-mp", str(base + spacing * i),
                "-i", "127.0.0.1", "-m", str(calls), "-nostdin", "-timeout", "600s",
                "-trace_msg", "-message_file", log + ".msg",
                "-trace_err", "-error_file", log + ".err"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def callers(workdir, label, did, rate, seconds):
    log = os.path.join(workdir, f"{label}-caller")
    calls = rate * seconds
    res = subprocess.run(
        taskset_prefix() + [
            "sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
            os.path.join(BENCH, "uac-stream.xml"), "-s", did, "-d", str(TALK_MS),
            "-r", str(rate), "-m", str(calls), "-l", str(calls),
            "-p", str(CALLER_PORT), "-mp", str(media_ports(calls)[0]), "-i", "127.0.0.1",
            "-nostdin", "-timeout", f"{seconds + TALK_MS // 1000 + 120}s",
            "-trace_msg", "-message_file", log + ".msg",
            "-trace_err", "-error_file", log + ".err"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return res.returncode, log + ".msg"


MESSAGE = re.compile(r"^-{20,} (\S+ \S+)\n(UDP message (sent|received)[^\n]*)\n\n"
                     r"(.*?)(?=^-{20,} |\Z)", re.M | re.S)
CALLER_NUMBER = re.compile(r"^From:[^\n]*sip:1555000(\d+)@", re.M)


def messages(path):
    """(time in s, 'sent' or 'received', text) of each message of a sipp log."""
    from datetime import datetime
    with open(path, errors="replace") as f:
        text = f.read()
    for m in MESSAGE.finditer(text):
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        yield t, m.group(3), m.group(4)


def caller_results(path):
    """({call number: INVITE sent}, calls whose BYE got its 200)."""
    invites, ok = {}, set()
    for t, way, text in messages(path):
        num = CALLER_NUMBER.search(text)
        if not num:
            continue
        if way == "sent" and text.startswith("INVITE "):
            invites.setdefault(num.group(1), t)
        elif way == "received" and text.startswith("SIP/2.0 200") and \
                re.search(r"^CSeq:\s*\d+ BYE", text, re.M):
            ok.add(num.group(1))
    return invites, ok


def agent_invites(paths):
    first = {}
    for path in paths:
        for t, way, text in messages(path):
            if way == "received" and text.startswith("INVITE "):
                num = CALLER_NUMBER.search(text)
                if num and (num.group(1) not in first or t < first[num.group(1)]):
                    first[num.group(1)] = t
    return first


# -- one phase -------------------------------------------------------------------

def pg_transactions():
    """Transactions committed in the database so far: Asterisk's realtime
    lookups, and the daemon's writes."""
    return int(harness.sql("SELECT pg_stat_force_next_flush(); SELECT xact_commit"
                           " FROM pg_stat_database WHERE datname = current_database()")[-1][0])


def wait_done(calls_before, calls, daemon):
    """True once Asterisk is idle and (with the daemon) every call has its
    CDR closed; False when that takes more than a minute."""
    try:
        harness.wait_idle(timeout=60)
        if daemon:
            acd.wait_calls(calls_before + calls, timeout=60)
    except AssertionError:
        return False
    return True


def perf_start(workdir, label, pids):
    if not PERF:
        return []
    return [subprocess.Popen(["perf", "record", *PERF_ARGS, "-q", "-p", str(pid), "-o",
                              os.path.join(workdir, f"perf-{label}-{name}.data")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items()]


def perf_stop(recorders):
    for r in recorders:
        r.send_signal(signal.SIGINT)
    for r in recorders:
        r.wait(60)


def phase(workdir, label, did, rate, seconds, daemon=None):
    calls = rate * seconds
    procs = phones_start(workdir, label, calls)
    time.sleep(0.5)
    ast = acd.asterisk_pid()
    pids = {"asterisk": ast}
    if daemon:
        pids["welcomedlyd"] = daemon.proc.pid
    idle = None
    if daemon:
        # What the daemon costs with no call, to tell it from the calls' cost.
        i0 = cpu_ns(daemon.proc.pid)
        time.sleep(IDLE_S)
        idle = (cpu_ns(daemon.proc.pid) - i0) / 1e6 / IDLE_S
    recorders = perf_start(workdir, label, pids)
    calls_before = int(harness.sql("SELECT count(*) FROM calls WHERE end_time IS NOT NULL")[0][0])
    x0 = pg_transactions()
    a0 = cpu_ticks(ast)
    d0 = cpu_ns(daemon.proc.pid) if daemon else 0
    dt0 = cpu_ticks(daemon.proc.pid) if daemon else 0
    rc, caller_log = callers(workdir, label, did, rate, seconds)
    settled = wait_done(calls_before, calls, daemon)
    a1 = cpu_ticks(ast)
    d1 = cpu_ns(daemon.proc.pid) if daemon else 0
    dt1 = cpu_ticks(daemon.proc.pid) if daemon else 0
    x1 = pg_transactions()
    perf_stop(recorders)
    for p in procs:
        harness.stop_process(p)
    invites, ok = caller_results(caller_log)
    agents = agent_invites(glob.glob(os.path.join(workdir, f"{label}-phone*.msg")))
    ring = [(agents[n] - t) * 1000 for n, t in invites.items() if n in agents]
    hz = os.sysconf("SC_CLK_TCK")
    n = max(len(ok), 1)
    row = {
        "label": label, "calls": calls, "ok": len(ok), "sipp_rc": rc,
        "ast_ms": (a1 - a0) * 1000 / hz / n,
        "ctl_ms": (d1 - d0) / 1e6 / n if daemon else None,
        "ctl_ticks_ms": (dt1 - dt0) * 1000 / hz / n if daemon else None,
        "rss_mb": status_kb(daemon.proc.pid, "VmHWM")[0] / 1024 if daemon else None,
        "rss_split": rss_split_mb(daemon.proc.pid) if daemon else None,
        "idle_ms_per_s": idle,
        "pg_per_call": (x1 - x0) / n,
        "ring": [pct(ring, p) for p in (50, 90, 99)], "rang": len(ring),
        "settled": settled, "late": sum(1 for v in ring if v > RING_LIMIT_MS),
    }
    return row


def fmt(v, unit=""):
    return "—" if v is None else f"{v:.2f}{unit}" if v < 10 else f"{v:.1f}{unit}"


def ratios(q, w):
    """welcomedlyd's figures against app_queue's of the same round."""
    return {"ast": w["ast_ms"] / q["ast_ms"], "p50": w["ring"][0] - q["ring"][0],
            "p99": w["ring"][2] / q["ring"][2], "ctl": w["ctl_ms"]}


def report(rows, rate, seconds):
    """rows: app_queue's and welcomedlyd's phases, alternating by round."""
    print(f"\ninbound {rate} calls/s for {seconds} s, {AGENTS} agents in"
          f" {PHONE_PROCESSES} sipp phones, talk {TALK_MS} ms, pin {PIN}\n")
    print("| controller | calls ok | controller CPU/call | controller peak RSS"
          " | Asterisk CPU/call | ring latency p50 / p90 / p99 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ring = " / ".join(fmt(v) for v in r["ring"]) + " ms"
        print(f"| {r['label']} | {r['ok']}/{r['calls']} | {fmt(r['ctl_ms'], ' ms')}"
              f" | {fmt(r['rss_mb'], ' MB')} | {fmt(r['ast_ms'], ' ms')} | {ring} |")
    rounds = [ratios(q, w) for q, w in zip(rows[0::2], rows[1::2])]
    for i, (x, w) in enumerate(zip(rounds, rows[1::2])):
        which = f" (round {i + 1})" if len(rounds) > 1 else ""
        print(f"\nwelcomedlyd vs app_queue{which}: Asterisk CPU/call x{x['ast']:.2f}"
              f" (goal <= 1.3), ring p50 {x['p50']:+.1f} ms (goal <= +1),"
              f" p99 x{x['p99']:.2f} (goal <= 1.5);"
              f" controller CPU/call {fmt(w['ctl_ms'], ' ms')} (goal <= 0.5;"
              f" {fmt(w['ctl_ticks_ms'], ' ms')} from utime+stime ticks),"
              f" peak RSS {fmt(w['rss_mb'], ' MB')} (goal <= 10; at the end"
              f" {w['rss_split'][0]:.1f} MB anonymous, {w['rss_split'][1]:.1f} MB of"
              " mapped files);"
              f" daemon idle {w['idle_ms_per_s']:.2f} ms of CPU per s")
    if len(rounds) > 1:
        m = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
        print(f"\nmedian of {len(rounds)} rounds: Asterisk CPU/call x{m['ast']:.2f},"
              f" ring p50 {m['p50']:+.1f} ms, p99 x{m['p99']:.2f},"
              f" controller CPU/call {fmt(m['ctl'], ' ms')}")
    print("PostgreSQL transactions per call: " + ", ".join(
        f"{r['label']} {r['pg_per_call']:.1f}" for r in rows) +
        " (app_queue's are Asterisk's realtime lookups alone)")
    for r in rows:
        if r["ok"] != r["calls"] or r["rang"] != r["ok"]:
            print(f"{r['label']}: {r['ok']} of {r['calls']} calls ok, {r['rang']} rang an"
                  f" agent, sipp exit {r['sipp_rc']}")


def traffic(log, calls):
    """With BENCH_LOG_LEVEL=debug, the ARI events and REST requests of the
    daemon per call, by type and by method and path shape."""
    events, requests = {}, {}
    for m in re.finditer(r'ari events: rx \{.*?"type":"(\w+)"', log):
        events[m.group(1)] = events.get(m.group(1), 0) + 1
    for m in re.finditer(r"ari rest: start (ws )?method=(\w+) (?:url|uri)=(?:http://[^/]+)?"
                         r"(?:/ari)?(\S*)", log):
        path = re.sub(r"\?.*", "", m.group(3))
        path = re.sub(r"/(channels|bridges|playbacks|recordings/live)/[^/]+",
                      r"/\1/{id}", path)
        key = f"{m.group(2)} {path}" + (" (ws)" if m.group(1) else "")
        requests[key] = requests.get(key, 0) + 1
    if not events:
        return
    print(f"\nper call, welcomedlyd: {sum(events.values()) / calls:.1f} ARI events, "
          f"{sum(requests.values()) / calls:.1f} REST requests")
    for name, table in (("events", events), ("requests", requests)):
        for k, v in sorted(table.items(), key=lambda kv: -kv[1]):
            print(f"  {name}: {v / calls:5.2f} {k}")


def failed(row):
    return (row["ok"] != row["calls"] or row["rang"] != row["ok"] or row["late"]
            or not row["settled"])


def ramp(workdir, label, did, rates, seconds, daemon=None):
    """Phases at each rate until one fails: (the highest rate without a
    failure or None, the highest whose ring p99 is within RING_P99_MS or
    None)."""
    best, fast, previous = None, None, None
    for rate in rates:
        row = phase(workdir, f"{label}-{rate}", did, rate, seconds, daemon)
        ring = " / ".join(fmt(v) for v in row["ring"])
        print(f"| {label} | {rate}/s | {row['ok']}/{row['calls']}"
              f" | {row['ok'] - row['rang']} | {row['late']}"
              f" | {fmt(row['ast_ms'], ' ms')} | {fmt(row['ctl_ms'], ' ms')}"
              f" | {ring} ms |{'' if row['settled'] else ' calls left behind |'}",
              flush=True)
        if failed(row):
            break
        best = rate
        if row["ring"][2] <= RING_P99_MS and fast == previous:
            fast = rate
        previous = rate
    return best, fast


def ceiling(workdir, did, cid, agents, seconds, rates):
    print(f"\nceiling: {seconds} s a phase, rates {rates[0]}..{rates[-1]} calls/s,"
          f" {AGENTS} agents in {PHONE_PROCESSES} sipp phones, talk {TALK_MS} ms,"
          f" pin {PIN}\n")
    print(f"| controller | rate | calls ok | not rung | rung after {RING_LIMIT_MS} ms"
          " | Asterisk CPU/call | controller CPU/call | ring p50 / p90 / p99 |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    q, qf = ramp(workdir, "app_queue", QUEUE_DID, rates, seconds)
    daemon = start_daemon(workdir, cid, agents)
    try:
        w, wf = ramp(workdir, "welcomedlyd", did, rates, seconds, daemon)
    finally:
        daemon.stop()

    def text(best):
        return f"{best}/s or more" if best == rates[-1] else f"{best}/s" if best else \
            f"below {rates[0]}/s"

    def ratio(a, b):
        return f"; welcomedlyd / app_queue x{b / a:.2f}" if a and b else ""
    print(f"\nceiling (highest rate with 0 failed calls): app_queue {text(q)},"
          f" welcomedlyd {text(w)}{ratio(q, w)}")
    print(f"highest rate with ring p99 <= {RING_P99_MS} ms: app_queue {text(qf)},"
          f" welcomedlyd {text(wf)}{ratio(qf, wf)}")
    capacity = AGENTS * 1000 / (TALK_MS + 500)
    if rates[-1] > capacity:
        print(f"(past about {capacity:.0f} calls/s the {AGENTS} agents, talking"
              f" {TALK_MS} ms a call, are the limit, not the controller)")


def start_daemon(workdir, cid, agents):
    daemon = harness.Daemon(DATABASE_URL=harness.pg_url(), LOG_LEVEL=LOG_LEVEL,
                            PROMPT_SOUND="sound:beep",
                            JOURNAL_DIR=os.path.join(workdir, "journal")).start()
    pin(daemon.proc.pid, "daemon")
    daemon.wait_log(r"campaigns loaded", timeout=30)
    for aid, _, _ in agents:
        acd.login(aid)
    harness.wait_for(lambda: int(harness.sql(
        f"SELECT count(*) FROM agents a JOIN campaign_agents m ON m.agent_id = a.id"
        f" WHERE m.campaign_id = {cid} AND a.state = 'available'")[0][0]) == len(agents),
        timeout=60, what="every agent available")
    return daemon


def main():
    if sys.argv[1:2] == ["ceiling"]:
        args = [int(a) for a in sys.argv[2:]] + [0] * 4
        seconds, first, step, last = (a or d for a, d in zip(args, (12, 10, 5, 60)))
        rates = list(range(first, last + 1, step))
    else:
        rate = int(sys.argv[1]) if len(sys.argv) > 1 else 6
        seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 12
        rates = None
        if ROUNDS < 1:
            sys.exit(f"tools/bench inbound: BENCH_ROUNDS is {ROUNDS}; it counts rounds,"
                     " 1 or more")
    workdir = tempfile.mkdtemp(prefix="bench-inbound-", dir=harness.LOG_DIR)
    audio_file(workdir)
    # A fresh instance: the queue and its dialplan go into its rendered files.
    harness.asterisk_stop()
    harness.asterisk_start()
    # The agents, numbers and calls of earlier runs go: the daemon loads
    # every agent, and Asterisk every registration.
    harness.sql("TRUNCATE calls, dids, campaign_agents, sip_peers, ps_contacts, ps_endpoints,"
                " ps_auths, ps_aors, agents, campaigns CASCADE")
    pin(acd.asterisk_pid(), "asterisk")
    daemon = None
    try:
        cid, did = acd.campaign(wrapup_time=0, strategy="rrmemory",
                                ring_timeout=RING_TIMEOUT, retry_delay=1,
                                max_queue_length=100000)
        agents = [acd.agent(cid) for _ in range(AGENTS)]
        register(agents)
        app_queue_setup([user for _, user, _ in agents])
        if rates:
            ceiling(workdir, did, cid, agents, seconds, rates)
            return
        rows = []
        for i in range(ROUNDS):
            which = f"-{i + 1}" if ROUNDS > 1 else ""
            rows.append(phase(workdir, "app_queue" + which, QUEUE_DID, rate, seconds))
            daemon = daemon or start_daemon(workdir, cid, agents)
            rows.append(phase(workdir, "welcomedlyd" + which, did, rate, seconds, daemon))
        report(rows, rate, seconds)
        traffic(daemon.log(), sum(r["calls"] for r in rows[1::2]))
        print(f"\nlogs in {workdir}; the daemon's in {daemon.log_path}")
    finally:
        if daemon:
            daemon.stop()
        for d in ("recording", "monitor"):
            for f in glob.glob(os.path.join(acd.INSTANCE, "spool", d, "*")):
                os.remove(f)
        if os.environ.get("BENCH_KEEP_ASTERISK") != "1":
            harness.asterisk_stop()


if __name__ == "__main__":
    main()
