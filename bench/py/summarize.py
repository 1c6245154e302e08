"""Turns the RESULT lines of bench/run into a Markdown summary (stdout).

RESULT lines: "RESULT <kind> <name> key=value ...". Repetitions of the same benchmark are
combined by their median; every repetition's value is listed too, so noise is visible."""

import statistics
import sys
from collections import OrderedDict


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[0] != "RESULT":
                continue
            kv = {}
            for p in parts[3:]:
                if "=" in p:
                    k, v = p.split("=", 1)
                    try:
                        kv[k] = float(v)
                    except ValueError:
                        kv[k] = v
            rows.append((parts[1], parts[2], kv))
    # A "cost_rt"/"cost_tp" line precedes the rt/tp line it belongs to: merge it into that one.
    merged = []
    pending = {}
    for kind, name, kv in rows:
        if kind in ("cost_rt", "cost_tp"):
            pending[(kind[5:], name)] = kv
            continue
        c = pending.pop((kind, name), None)
        if c is not None:
            kv = dict(kv, cpu_us_per_op=c["cpu_us_per_op"], ctxsw_per_op=c["ctxsw_per_op"])
        merged.append((kind, name, kv))
    return merged


def cost(runs, key, nd):
    xs = [r[key] for r in runs if key in r]
    return fmt(med(xs), nd) if xs else "-"


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, nd=1):
    return ("%." + str(nd) + "f") % x


PY_OURS = ("iotjobs-python(Client.update)", "iotjobs-compat(v1-API)")
PY_PEERS = ("python-sdk-v1(nagle)", "python-sdk-v1(nodelay)", "python-sdk-v2(IotJobsClient)",
            "python-sdk-v2(IotJobsClientV2)")


def python_ratios(p, stats):
    """The Python rows against each other: iotjobs' package (Pythonic and v1-compatible)
    over each Python SDK; < 1 means iotjobs is faster."""
    ours = [n for n in PY_OURS if n in stats]
    peers = [n for n in PY_PEERS if n in stats]
    if not ours or not peers:
        return
    p("Python (plain TCP), iotjobs / peer (< 1 means iotjobs is faster):")
    p("")
    p("| iotjobs row | peer | median µs (iotjobs vs peer) | median ratio | p99 µs (iotjobs vs peer) | p99 ratio |")
    p("|---|---|---|---|---|---|")
    for o in ours:
        om, oq = stats[o]
        for peer in peers:
            pm, pq = stats[peer]
            p("| %s | %s | %s vs %s | %.3f | %s vs %s | %.3f |"
              % (o, peer, fmt(om), fmt(pm), om / pm, fmt(oq), fmt(pq), oq / pq))
    p("")


def main():
    rows = parse(sys.argv[1])
    out = []
    p = out.append

    # 1. Round trip
    rt = OrderedDict()
    for kind, name, kv in rows:
        if kind == "rt":
            rt.setdefault(name, []).append(kv)
    if rt:
        p("### 1. Round trip: UpdateJobExecution request -> update/accepted (QoS 1, loopback)")
        p("")
        p("| client | runs x samples | median µs | p99 µs | mean µs | client CPU µs per round trip | context switches per round trip | medians of each run µs | p99 of each run µs |")
        p("|---|---|---|---|---|---|---|---|---|")
        stats = {}
        for name, runs in rt.items():
            m = med([r["median_us"] for r in runs])
            q = med([r["p99_us"] for r in runs])
            mean = med([r["mean_us"] for r in runs])
            stats[name] = (m, q)
            p("| %s | %d x %d | %s | %s | %s | %s | %s | %s | %s |" % (
                name, len(runs), int(runs[0]["n"]), fmt(m), fmt(q), fmt(mean),
                cost(runs, "cpu_us_per_op", 1), cost(runs, "ctxsw_per_op", 2),
                ", ".join(fmt(r["median_us"]) for r in runs),
                ", ".join(fmt(r["p99_us"]) for r in runs)))
        p("")
        for sfx, label in (("", "plain TCP"), ("+tls", "mutual TLS")):
            if "iotjobs" + sfx not in stats:
                continue
            im, iq = stats["iotjobs" + sfx]
            peers = [(n, st) for n, st in stats.items()
                     if n in ("libmosquitto(nodelay)" + sfx, "paho-c(MQTTAsync,nodelay)" + sfx)]
            p("%s:" % label)
            p("")
            if peers:
                bm = min(peers, key=lambda x: x[1][0])
                bq = min(peers, key=lambda x: x[1][1])
                p("- best C peer by median: %s %s µs vs iotjobs %s µs (iotjobs/peer = %.2f; < 1 means iotjobs is faster)"
                  % (bm[0], fmt(bm[1][0]), fmt(im), im / bm[1][0]))
                p("- best C peer by p99: %s %s µs vs iotjobs %s µs (iotjobs/peer = %.2f)"
                  % (bq[0], fmt(bq[1][1]), fmt(iq), iq / bq[1][1]))
                req = "iotjobs(request:jobs_update)" + sfx
                if req in stats:
                    qm, qq = stats[req]
                    p("- request/response (blocking jobs_update -> accepted) vs %s: median %s vs %s µs (iotjobs/peer = %.2f), p99 %s vs %s µs (%.2f); target <= 1.0"
                      % (bm[0], fmt(qm), fmt(bm[1][0]), qm / bm[1][0], fmt(qq), fmt(bq[1][1]), qq / bq[1][1]))
                raw = "iotjobs(raw:publish_async)" + sfx
                if raw in stats:
                    rm, rq = stats[raw]
                    p("- iotjobs raw publish_async (the peers' exact work) vs %s: median %s vs %s µs (%.2f), p99 %s vs %s µs (%.2f)"
                      % (bm[0], fmt(rm), fmt(bm[1][0]), rm / bm[1][0], fmt(rq), fmt(bm[1][1]), rq / bm[1][1]))
            for py in ("python-sdk-v1(nodelay)" + sfx, "python-sdk-v1(nagle)" + sfx):
                if py in stats:
                    pm, pq = stats[py]
                    p("- ratio %s / iotjobs: median %.1fx, p99 %.1fx" % (py, pm / im, pq / iq))
            p("")
        python_ratios(p, stats)

    # 2. Throughput
    tp = OrderedDict()
    for kind, name, kv in rows:
        if kind == "tp":
            topic = kv.get("topic", "?")
            tkind = "jobs update topic" if "/jobs/" in str(topic) else "bench/tp (no subscriber)"
            if name.endswith("+tls"):
                tkind += ", mutual TLS"
            tp.setdefault((tkind, name, int(kv["window"])), []).append(kv)
    if tp:
        p("### 2. QoS 1 publish throughput (64-byte payloads, acks counted)")
        p("")
        p("| topic | client | window | msgs/s (median of runs) | client CPU µs per message | each run msgs/s |")
        p("|---|---|---|---|---|---|")
        best = {}
        for (tkind, name, w), runs in tp.items():
            v = med([r["msgs_per_s"] for r in runs])
            p("| %s | %s | %d | %d | %s | %s |" % (tkind, name, w, v, cost(runs, "cpu_us_per_op", 2),
                                                 ", ".join("%d" % r["msgs_per_s"] for r in runs)))
            who = "iotjobs" if name.startswith("iotjobs") else "peer"
            cur = best.get((tkind, who))
            if cur is None or v > cur[0]:
                best[(tkind, who)] = (v, name, w)
        p("")
        for tkind in sorted({k[0] for k in best}):
            i = best.get((tkind, "iotjobs"))
            c = best.get((tkind, "peer"))
            if i and c:
                p("- %s: iotjobs best %d msgs/s (window %d) vs best C peer %s %d msgs/s (window %d): iotjobs/peer = %.2f"
                  % (tkind, i[0], i[2], c[1], c[0], c[2], i[0] / c[0]))
        p("")

    # 3. Size
    sz = [(name, kv) for kind, name, kv in rows if kind == "size"]
    if sz:
        p("### 3. Size")
        p("")
        p("| file | bytes | size(1) segments |")
        p("|---|---|---|")
        for name, kv in sz:
            segs = " ".join("%s=%d" % (k, kv[k]) for k in ("text", "data", "bss") if k in kv)
            p("| %s | %d (%.2f MB) | %s |" % (name, kv["bytes"], kv["bytes"] / 1e6, segs))
        secs = [(name, kv) for kind, name, kv in rows if kind == "section"]
        if secs:
            p("")
            p("Largest ELF sections of libiotjobs.so: " + ", ".join(
                "%s %d kB" % (n.split(".so", 1)[1], kv["bytes"] / 1024) for n, kv in secs))
        p("")

    # 4. Idle
    idle = [(kind, name, kv) for kind, name, kv in rows
            if kind in ("idle_before", "idle", "idle_lib_threads", "after_rt")]
    if any(kind == "idle" for kind, _, _ in idle):  # section 1 alone leaves after_rt rows
        p("### 4. Idle RSS and threads (connected, one subscription, 1.5 s idle)")
        p("")
        p("| client | RSS before connect kB | idle RSS kB | idle threads (process) | library threads idle | threads after round trips | RSS after round trips kB |")
        p("|---|---|---|---|---|---|---|")
        names = OrderedDict()
        for kind, name, kv in idle:
            names.setdefault(name, {}).setdefault(kind, []).append(kv)
        for name, d in names.items():
            if "idle" not in d:
                continue
            b = d.get("idle_before", [{}])[-1]
            i = d["idle"][-1]
            lt = d.get("idle_lib_threads", [{}])[-1]
            ar = d.get("after_rt", [{}])[-1]
            p("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, "%d" % b["rss_kb"] if "rss_kb" in b else "-", "%d" % i["rss_kb"],
                "%d" % i["threads"], "%d" % lt["threads"] if "threads" in lt else "-",
                "%d" % ar["threads"] if "threads" in ar else "-",
                "%d" % ar["rss_kb"] if "rss_kb" in ar else "-"))
        p("")

    # 5. Connections
    cs = [(kind, name, kv) for kind, name, kv in rows if kind in ("conns", "conns_free")]
    if cs:
        p("### 5. Many connections in one process")
        p("")
        for kind, name, kv in cs:
            if kind == "conns":
                p("- %s: %d connections, %d online after %.3f s; process threads %d (before: %d); RSS %d kB (before: %d kB, %.1f kB per connection); peak RSS %d kB"
                  % (name, kv["n"], kv["online"], kv["secs_to_all_online"], kv["threads"],
                     kv["threads_before"], kv["rss_kb"], kv["rss_before_kb"],
                     (kv["rss_kb"] - kv["rss_before_kb"]) / kv["n"], kv["hwm_kb"]))
            else:
                p("- %s: freeing %d connections took %.3f s" % (name, kv["n"], kv["secs"]))
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
