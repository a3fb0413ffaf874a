"""Ring latency: from a caller's StasisStart to the agent's leg requested.

Run by `tools/bench ring [CALLS] [RATE]`: a campaign with five sipp agent
phones that answer at once, CALLS trunk calls at RATE per second, and the
daemon's own timestamps (the "offered ... since_stasis_us=" log line of
each call's first offer). The first offer goes out before the caller is
answered, so this is the daemon's own part alone.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "integration"))
import acd  # noqa: E402
import harness  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rate = sys.argv[2] if len(sys.argv) > 2 else "6"
    harness.asterisk_start()
    daemon = harness.Daemon(DATABASE_URL=harness.pg_url(), LOG_LEVEL="info",
                            JOURNAL_DIR=os.path.join(harness.LOG_DIR, "j-bench")).start()
    phones = []
    try:
        daemon.wait_log(r"campaigns loaded")
        cid, did = acd.campaign(wrapup_time=0, strategy="rrmemory")
        agents = [acd.agent(cid) for _ in range(5)]
        acd.reload()
        daemon.wait_log(r"campaigns loaded", count=2)
        for aid, user, pw in agents:
            phones.append(acd.Phone(user, pw, ring_ms=0, calls=calls))
            daemon.wait_log(rf"agent={aid} phone=\S+ reachable", timeout=10)
            acd.login(aid)
            daemon.wait_log(rf"agent={aid} \w+ --login--> available")
        res = harness.sipp("uac-hangup.xml", "-s", did, "-d", "300", "-r", rate,
                           "-l", "50", calls=calls, timeout=600)
        first = {}
        for m in re.finditer(r"call=(\S+) offered .* since_stasis_us=(\d+)",
                             daemon.log()):
            first.setdefault(m.group(1), int(m.group(2)))
        since = list(first.values())
        print(f"ring-latency calls={len(first)} sipp_rc={res.returncode}"
              f" since_stasis_us p50={pct(since, 50)} p99={pct(since, 99)}"
              f" max={max(since)}")
    finally:
        for p in phones:
            p.stop()
        daemon.stop()
        harness.asterisk_stop()


if __name__ == "__main__":
    main()
