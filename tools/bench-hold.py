"""Callers held in a queue: the daemon's memory for each call it holds.

Run by `tools/bench hold [CALLS] [RATE]`. One sandbox Asterisk (its RTP
range wide enough for CALLS calls), one daemon and one campaign whose only
agent is logged in and paused, so that every caller is answered, queued and
hears music on hold, and nobody takes them:

1. a warm-up: WARMUP callers held a few seconds, then gone, so that what
   the first calls of a process allocate once (pools, tables, the
   database's prepared statements) is not counted per call;
2. CALLS callers placed at RATE/s by one sipp, each staying until all of
   them have been held together for HOLD_S seconds; the daemon's memory is
   read when a quarter, half, three quarters and all of them wait in its
   queue (GET /api/v1/queues/{id} says how many);
3. the callers hang up; once every CDR is closed the memory is read again.

Printed: one row per reading (calls waiting, the daemon's VmRSS, its
anonymous memory from smaps_rollup, Asterisk's VmRSS), then the memory per
held call, from the slope between the half-way and the full reading (what
one more call costs once the process is warm) and from the warm baseline to
the full one, and what is left 25 s after the last call (the daemon trims
its heap every 10 s; the event feed keeps its last 4,096 events). Checked:
every caller was held until it hung up (sipp saw no failed call), every CDR
closed, no channel or bridge left. The exit
status is 1 when a check fails or a held call costs more than TARGET_KB.
On a 2-core machine the sandbox Asterisk answers late from about 700
callers on music on hold (each one a file stream and 50 RTP packets a
second): more than that measures Asterisk's overload, and the daemon then
hangs up the callers whose answer timed out. So the campaign's callers wait
in silence (moh_class "") unless BENCH_HOLD_MOH names a class: the daemon
keeps the same for a call either way (one flag), and a silent caller costs
the sandbox Asterisk a sleeping thread instead of a stream.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "integration"))
import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402

WARMUP = 100
HOLD_S = 20
TARGET_KB = 8.0
CALLER_PORT = harness.SIP_PORT + 10


def memory_kb(pid):
    """(VmRSS, anonymous) of a process, in KB."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
    with open(f"/proc/{pid}/smaps_rollup") as f:
        anon = next(int(ln.split()[1]) for ln in f if ln.startswith("Anonymous:"))
    return rss, anon


def callers(did, calls, rate, hold_ms, label):
    """One sipp UAC placing calls at rate; each hangs up hold_ms after it is
    answered (a BYE from Asterisk before that fails the call)."""
    stats = os.path.join(harness.LOG_DIR, f"hold-{label}.csv")
    out = open(os.path.join(harness.LOG_DIR, f"hold-{label}.log"), "w")
    proc = subprocess.Popen(
        ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
         os.path.join(harness.SCENARIOS, "uac-hangup.xml"), "-s", did,
         "-d", str(hold_ms), "-r", str(max(1, round(rate * 10))), "-rp", "10000",
         "-m", str(calls), "-l", str(calls + 10), "-i", "127.0.0.1",
         "-p", str(CALLER_PORT), "-mp", str(CALLER_PORT + 20000), "-nostdin",
         "-timeout", f"{calls / rate + hold_ms / 1000 + 120:.0f}s",
         "-trace_stat", "-stf", stats, "-fd", "5", "-trace_err",
         "-error_file", os.path.join(harness.LOG_DIR, f"hold-{label}.err")],
        stdout=out, stderr=subprocess.STDOUT)
    return proc, stats, out


def sipp_counts(stats):
    """(successful, failed) calls of a finished sipp from its statistics."""
    import csv
    with open(stats, newline="") as f:
        last = list(csv.DictReader(f, delimiter=";"))[-1]
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])


def closed_cdrs(base):
    """Ended records of this run's calls (a call refused before it reached
    the campaign has none)."""
    return int(harness.sql(f"SELECT count(end_time) FROM calls WHERE id > {base}")[0][0])


def run_callers(did, calls, rate, hold_ms, label, on_waiting=None, cid=None, client=None):
    proc, stats, out = callers(did, calls, rate, hold_ms, label)
    try:
        while proc.poll() is None:
            if on_waiting:
                on_waiting(client.get(f"/api/v1/queues/{cid}").body["waiting"])
            time.sleep(0.25)
    finally:
        harness.stop_process(proc)
        out.close()
    return sipp_counts(stats)


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    harness.asterisk_start()
    daemon, port = api.start_daemon(name="hold", LOG_LEVEL="info")
    rc = 1
    try:
        rc = bench(daemon, port, calls, rate)
    finally:
        daemon.stop()
        harness.asterisk_stop()
    sys.exit(rc)


def paused_agent(cid):
    aid, user, pw = acd.agent(cid)
    acd.reload()
    res = harness.sipp("register.xml", "-s", user, "-au", user, "-ap", pw,
                       local_port=CALLER_PORT + 5)
    if res.returncode != 0:
        raise AssertionError(f"REGISTER failed: {res.stdout}{res.stderr}")
    return aid


def bench(daemon, port, calls, rate):
    c = api.Client(port, api.ADMIN_TOKEN)
    cid, did = acd.campaign(strategy="rrmemory", announce_frequency=0,
                            max_queue_length=calls + WARMUP,
                            moh_class=os.environ.get("BENCH_HOLD_MOH", ""))
    aid = paused_agent(cid)
    harness.wait_for(lambda: c.post(f"/api/v1/agents/{aid}/state",
                                    {"state": "available"}, check=False).status == 200,
                     30, what=f"agent {aid} logged in")
    acd.login(aid, "pause", "bench")
    harness.wait_for(lambda: acd.agent_state(aid)[0] == "paused", 10,
                     what="the agent paused")
    pid, ast = daemon.proc.pid, acd.asterisk_pid()
    base = int(harness.sql("SELECT coalesce(max(id), 0) FROM calls")[0][0])

    ok, failed = run_callers(did, WARMUP, min(rate, 50), 3000, "warmup")
    harness.wait_for(lambda: closed_cdrs(base) >= WARMUP, 60, interval=0.5,
                     what="the warm-up's CDRs")
    harness.wait_for(lambda: not harness.channels(), 60, interval=0.5,
                     what="the warm-up's channels gone")
    rows = [("warm", 0, *memory_kb(pid), memory_kb(ast)[0])]
    marks = [calls // 4, calls // 2, 3 * calls // 4, calls]
    t0 = time.monotonic()

    def on_waiting(waiting):
        while marks and waiting >= marks[0]:
            rows.append((f"{marks[0] * 100 // calls}%", waiting, *memory_kb(pid),
                         memory_kb(ast)[0]))
            if marks.pop(0) == calls:
                rows.append(("held", len(harness.channels()), 0, 0, 0))
                print(f"{calls} callers held {time.monotonic() - t0:.1f} s after the"
                      f" first; Asterisk has {rows[-1][1]} channels", flush=True)

    hold_ms = int((calls / rate + HOLD_S) * 1000)
    ok, failed = run_callers(did, calls, rate, hold_ms, "held", on_waiting, cid, c)
    harness.wait_for(lambda: closed_cdrs(base) >= WARMUP + calls, 120, interval=1,
                     what="every CDR closed")
    harness.wait_for(lambda: not harness.channels() and not harness.bridges(), 60,
                     interval=1, what="Asterisk idle")
    # The daemon looks at its heap every 10 s and gives free pages back.
    time.sleep(25)
    rows.append(("after", 0, *memory_kb(pid), memory_kb(ast)[0]))
    return report(rows, calls, ok, failed, cid)


def report(rows, calls, ok, failed, cid):
    print(f"{'reading':>7} {'waiting':>7} {'rss_kb':>8} {'anon_kb':>8} {'asterisk_rss_kb':>15}")
    readings = {}
    for label, waiting, rss, anon, ast in rows:
        if label == "held":
            continue
        readings[label] = (waiting, rss, anon, ast)
        print(f"{label:>7} {waiting:>7} {rss:>8} {anon:>8} {ast:>15}")
    warm, full = readings.get("warm"), readings.get("100%")
    half, after = readings.get("50%"), readings.get("after")
    checks = [("every caller held until it hung up (sipp ok/failed)",
               f"{ok}/{failed}", ok == calls and failed == 0),
              ("all held at once", f"{full[0] if full else 0}/{calls}", full is not None)]
    if full and half:
        per_call = (full[1] - half[1]) / (full[0] - half[0])
        per_call_anon = (full[2] - half[2]) / (full[0] - half[0])
        whole = (full[1] - warm[1]) / full[0]
        ast_per_call = (full[3] - warm[3]) / full[0]
        print(f"per held call: {per_call:.2f} KB RSS ({per_call_anon:.2f} KB anonymous)"
              f" from {half[0]} to {full[0]} held; {whole:.2f} KB from the warm"
              f" baseline; Asterisk {ast_per_call:.1f} KB")
        checks.append((f"RSS per held call <= {TARGET_KB} KB", f"{per_call:.2f}",
                       per_call <= TARGET_KB))
    if after and warm and full:
        print(f"after they left: {after[2] - warm[2]:+d} KB anonymous of the"
              f" {full[2] - warm[2]:+d} KB they took (the event feed keeps its last"
              " 4,096 events for ?since= replays)")
    bad = 0
    for what, value, good in checks:
        print(f"{'ok  ' if good else 'FAIL'} {what}: {value}")
        bad += not good
    print(json.dumps({"calls": calls, "readings": readings}))
    return 1 if bad else 0


if __name__ == "__main__":
    main()
