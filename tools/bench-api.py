"""GET /api/v1/queues throughput while calls are up.

Run by `tools/bench api [SECONDS] [CONNECTIONS]`: a campaign with five sipp
agent phones that answer and stay on the line, 25 trunk callers (five
talking to agents, twenty waiting in the queue with music on hold), then
wrk hammers GET /api/v1/queues with a supervisor's token and reports
requests per second and latency, with the daemon's CPU time spent serving
them.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "integration"))
import acd  # noqa: E402
import api  # noqa: E402
import harness  # noqa: E402

CALLERS = 25
AGENTS = 5


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def wrk(port, token, path, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(errors.group(1)) if errors else 0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    harness.asterisk_start()
    daemon, port = api.start_daemon(name="bench-api", LOG_LEVEL="info")
    phones, callers = [], None
    try:
        admin = api.Client(port, api.ADMIN_TOKEN)
        cid, did = acd.campaign(wrapup_time=0, strategy="rrmemory", max_wait_time=600)
        agents = [acd.agent(cid) for _ in range(AGENTS)]
        acd.reload()
        for aid, user, pw in agents:
            phones.append(acd.Phone(user, pw, ring_ms=0, calls=1))
            acd.login(aid)
        _, token = api.make_token(port, api.ADMIN_TOKEN, "supervisor")
        time.sleep(2)
        callers = subprocess.Popen(
            ["sipp", f"127.0.0.1:{harness.SIP_PORT}", "-sf",
             os.path.join(harness.SCENARIOS, "uac-hangup.xml"), "-s", did, "-d", "120000",
             "-m", str(CALLERS), "-r", "10", "-l", str(CALLERS), "-i", "127.0.0.1",
             "-nostdin", "-timeout", "300s", "-p", "19900", "-mp", "29900"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_for(lambda: len(harness.channels()) >= CALLERS + AGENTS, 30,
                         what="callers and agents up")
        queue = admin.ok("GET", f"/api/v1/queues/{cid}")
        t0 = cpu_ms(daemon.proc.pid)
        rps, p50, p99, bad = wrk(port, token, "/api/v1/queues", seconds, connections)
        t1 = cpu_ms(daemon.proc.pid)
        served = rps * seconds
        print(f"api-queues seconds={seconds} connections={connections}"
              f" waiting={queue['waiting']} in_call={queue['agents']['in_call']}"
              f" channels={len(harness.channels())} requests_per_s={rps:.0f}"
              f" latency_p50={p50} latency_p99={p99} non_2xx={bad}"
              f" daemon_cpu_us_per_request={(t1 - t0) * 1000 / served:.1f}")
    finally:
        if callers:
            callers.kill()
            callers.wait()
        for p in phones:
            p.stop()
        daemon.stop()
        harness.asterisk_stop()


if __name__ == "__main__":
    main()
