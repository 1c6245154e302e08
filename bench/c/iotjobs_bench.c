/* iotjobs side of the benchmarks. Modes:
 *   rt    PORT THING JOB N WARMUP           jobs_send_update (QoS 1, blocking) -> update/accepted
 *   rtraw PORT THING JOB N WARMUP           the peers' work: publish_async QoS 1, wait accepted
 *   rr    PORT THING JOB N WARMUP           jobs_update (request/response, blocking) -> accepted
 *   tp    PORT CLIENT_ID TOPIC N WINDOW BYTES  QoS 1 jobs_connection_publish_async, acks counted
 *   idle  PORT THING                         RSS and threads of a connected, subscribed client
 *   conns PORT N                             N connections in one process (connect_async)
 * Every number is printed as a "RESULT ..." line; any failure exits 2. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include "iotjobs.h"

static void die_rc(const char *what, jobs_result rc)
{
    char buf[512];
    buf[0] = '\0';
    (void)jobs_last_error_message(buf, sizeof buf);
    fprintf(stderr, "iotjobs_bench: %s failed: %s (%s)\n", what, jobs_result_str(rc), buf);
    exit(2);
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        jobs_result rc_ = (call);                                                                  \
        if (rc_ != JOBS_RESULT_OK) {                                                               \
            die_rc(#call, rc_);                                                                    \
        }                                                                                          \
    } while (0)

static jobs_config *endpoint_config(uint16_t port, const char *client_id)
{
    jobs_config *cfg = NULL;
    const char *cert = NULL;
    const char *key = NULL;
    const char *ca = tls_env(&cert, &key);
    CHECK(jobs_config_new(&cfg));
    CHECK(jobs_config_set_endpoint(cfg, "127.0.0.1", port));
    if (ca != NULL) {
        /* Mutual TLS (rustls), as against AWS IoT. */
        CHECK(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS));
        CHECK(jobs_config_set_ca_file(cfg, ca));
        CHECK(jobs_config_set_cert_file(cfg, cert));
        CHECK(jobs_config_set_key_file(cfg, key));
    } else {
        CHECK(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP));
    }
    CHECK(jobs_config_set_client_id(cfg, client_id));
    return cfg;
}

static void on_reply(void *user_data, const struct jobs_message *m)
{
    counter *c = (counter *)user_data;
    counter_add(c, jobs_message_reply_type(m) != JOBS_REPLY_TYPE_ACCEPTED);
}

static void on_rejected(void *user_data, const struct jobs_message *m)
{
    const char *msg = jobs_message_rejection_message(m);
    fprintf(stderr, "iotjobs_bench: update rejected: %s\n", msg != NULL ? msg : "?");
    counter_add((counter *)user_data, true);
}

static jobs_client *jobs_client_up(uint16_t port, const char *thing, const char *client_id)
{
    jobs_client *client = NULL;
    jobs_config *cfg = endpoint_config(port, client_id);
    CHECK(jobs_config_set_thing_name(cfg, thing));
    CHECK(jobs_config_set_jobs_qos(cfg, 1));
    CHECK(jobs_client_new(cfg, &client));
    jobs_config_free(cfg);
    CHECK(jobs_client_connect(client));
    return client;
}

static int mode_rt(uint16_t port, const char *thing, const char *job, long n, long warmup)
{
    counter c;
    uint32_t delivery = 0;
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    uint64_t *send = calloc((size_t)n, sizeof *send);
    jobs_client *client;
    usage_snap u0 = usage_now();
    long i;
    if (lat == NULL || send == NULL) {
        bench_fail("out of memory");
    }
    counter_init(&c);
    client = jobs_client_up(port, thing, "bench-iotjobs-rt");
    CHECK(jobs_create_subscription(client, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, job,
                                   on_reply, &c, &delivery));
    CHECK(jobs_create_subscription(client, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, job,
                                   on_rejected, &c, &delivery));
    for (i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            u0 = usage_now();
        }
        uint64_t target = counter_get(&c) + 1;
        uint64_t t0 = now_ns();
        CHECK(jobs_send_update(client, job, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                               &delivery));
        if (i >= warmup) {
            send[i - warmup] = now_ns() - t0;
        }
        if (delivery != JOBS_DELIVERY_SENT) {
            bench_fail("update was queued, not sent");
        }
        if (!counter_wait_ge(&c, target, 10000)) {
            bench_fail("no update/accepted within 10 s (or a rejection)");
        }
        if (i >= warmup) {
            lat[i - warmup] = now_ns() - t0;
        }
    }
    report_cost("rt", "iotjobs", u0, usage_now(), n);
    report_latencies("iotjobs", lat, (size_t)n);
    /* How much of it is the blocking call itself (request out, PUBACK back, caller woken). */
    report_latencies("iotjobs(jobs_send_update-returns)", send, (size_t)n);
    report_process("after_rt", "iotjobs");
    print_thread_names("INFO iotjobs threads after the round trips:");
    jobs_client_free(client);
    free(lat);
    free(send);
    return 0;
}

/* Request/response: jobs_update blocks until update/accepted, which the I/O thread hands to
 * the caller directly (no callback thread in the path). */
static int mode_rr(uint16_t port, const char *thing, const char *job, long n, long warmup)
{
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    jobs_client *client;
    jobs_update_args args;
    usage_snap u0 = usage_now();
    long i;
    if (lat == NULL) {
        bench_fail("out of memory");
    }
    client = jobs_client_up(port, thing, "bench-iotjobs-rr");
    CHECK(jobs_update_args_init(&args));
    args.job_id = job;
    args.status = JOBS_STATUS_IN_PROGRESS;
    /* The first request also makes the reply subscriptions: it belongs to the warm-up. */
    for (i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            u0 = usage_now();
        }
        uint64_t t0 = now_ns();
        CHECK(jobs_update(client, &args, NULL));
        if (i >= warmup) {
            lat[i - warmup] = now_ns() - t0;
        }
    }
    report_cost("rt", "iotjobs(request:jobs_update)", u0, usage_now(), n);
    report_latencies("iotjobs(request:jobs_update)", lat, (size_t)n);
    jobs_client_free(client);
    free(lat);
    return 0;
}

static void on_raw_message(void *user_data, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len)
{
    static const char acc[] = "/update/accepted";
    static const char rej[] = "/update/rejected";
    (void)payload;
    (void)payload_len;
    if (topic_len >= sizeof acc - 1 && memcmp(topic + topic_len - (sizeof acc - 1), acc, sizeof acc - 1) == 0) {
        counter_add((counter *)user_data, false);
    } else if (topic_len >= sizeof rej - 1 &&
               memcmp(topic + topic_len - (sizeof rej - 1), rej, sizeof rej - 1) == 0) {
        counter_add((counter *)user_data, true);
    }
}

/* The peers' work exactly: QoS 1 publish without waiting for PUBACK, wait for update/accepted,
 * with the generic connection API (no jobs client, no JSON parsing of the reply). */
static int mode_rtraw(uint16_t port, const char *thing, const char *job, long n, long warmup)
{
    counter c;
    char topic[300];
    char filter[300];
    char payload[128];
    int plen;
    uint8_t granted = 0;
    uint32_t delivery = 0;
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    jobs_connection *conn = NULL;
    jobs_config *cfg = endpoint_config(port, "bench-iotjobs-rtraw");
    usage_snap u0 = usage_now();
    long i;
    if (lat == NULL) {
        bench_fail("out of memory");
    }
    if (snprintf(topic, sizeof topic, "$aws/things/%s/jobs/%s/update", thing, job) >=
            (int)sizeof topic ||
        snprintf(filter, sizeof filter, "%s/+", topic) >= (int)sizeof filter) {
        bench_fail("topic too long");
    }
    plen = snprintf(payload, sizeof payload,
                    "{\"status\":\"IN_PROGRESS\",\"clientToken\":\"bench-iotjobs-rtraw\"}");
    if (plen < 0 || plen >= (int)sizeof payload) {
        bench_fail("payload too long");
    }
    counter_init(&c);
    CHECK(jobs_connection_new(cfg, &conn));
    jobs_config_free(cfg);
    CHECK(jobs_connection_connect(conn));
    CHECK(jobs_connection_subscribe(conn, filter, 1, on_raw_message, &c, &granted, &delivery));
    for (i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            u0 = usage_now();
        }
        uint64_t target = counter_get(&c) + 1;
        uint64_t t0 = now_ns();
        uint16_t pid = 0;
        CHECK(jobs_connection_publish_async(conn, topic, (const uint8_t *)payload, (size_t)plen, 1,
                                            false, NULL, NULL, &pid, &delivery));
        if (!counter_wait_ge(&c, target, 10000)) {
            bench_fail("no update/accepted within 10 s (or a rejection)");
        }
        if (i >= warmup) {
            lat[i - warmup] = now_ns() - t0;
        }
    }
    report_cost("rt", "iotjobs(raw:publish_async)", u0, usage_now(), n);
    report_latencies("iotjobs(raw:publish_async)", lat, (size_t)n);
    jobs_connection_free(conn);
    free(lat);
    return 0;
}

static void on_ack(void *user_data, uint16_t packet_id, jobs_result result, uint8_t granted_qos)
{
    (void)packet_id;
    (void)granted_qos;
    counter_add((counter *)user_data, result != JOBS_RESULT_OK);
}

static int mode_tp(uint16_t port, const char *client_id, const char *topic, long n, long window,
                   long bytes)
{
    counter c;
    jobs_connection *conn = NULL;
    jobs_config *cfg = endpoint_config(port, client_id);
    uint8_t *payload = malloc((size_t)bytes + 1);
    usage_snap u0;
    uint64_t t0;
    uint64_t t1;
    double secs;
    long i;
    if (payload == NULL) {
        bench_fail("out of memory");
    }
    memset(payload, 'x', (size_t)bytes);
    if (bytes >= 24 && strstr(topic, "/jobs/") != NULL) {
        /* A valid UpdateJobExecution request, padded with spaces. */
        const char *req = "{\"status\":\"IN_PROGRESS\"}";
        memset(payload, ' ', (size_t)bytes);
        memcpy(payload, req, strlen(req));
    }
    counter_init(&c);
    CHECK(jobs_connection_new(cfg, &conn));
    jobs_config_free(cfg);
    CHECK(jobs_connection_connect(conn));
    u0 = usage_now();
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        uint16_t pid = 0;
        uint32_t delivery = 0;
        if (i >= window && !counter_wait_ge(&c, (uint64_t)(i - window + 1), 30000)) {
            bench_fail("acks stopped arriving (30 s) or an ack reported an error");
        }
        CHECK(jobs_connection_publish_async(conn, topic, payload, (size_t)bytes, 1, false, on_ack,
                                            &c, &pid, &delivery));
        if (delivery != JOBS_DELIVERY_SENT) {
            bench_fail("publish was queued, not sent");
        }
    }
    if (!counter_wait_ge(&c, (uint64_t)n, 60000)) {
        bench_fail("not every PUBACK arrived within 60 s");
    }
    t1 = now_ns();
    secs = (double)(t1 - t0) / 1e9;
    report_cost("tp", "iotjobs", u0, usage_now(), n);
    printf("RESULT tp iotjobs n=%ld window=%ld bytes=%ld secs=%.3f msgs_per_s=%.0f topic=%s\n", n,
           window, bytes, secs, (double)n / secs, topic);
    jobs_connection_free(conn);
    free(payload);
    return 0;
}

static void on_notify(void *user_data, const struct jobs_message *m)
{
    (void)user_data;
    (void)m;
}

static int mode_idle(uint16_t port, const char *thing)
{
    uint32_t delivery = 0;
    jobs_client *client;
    int threads0 = thread_count();
    report_process("idle_before", "iotjobs");
    client = jobs_client_up(port, thing, "bench-iotjobs-idle");
    CHECK(jobs_create_subscription(client, JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST,
                                   NULL, on_notify, NULL, &delivery));
    CHECK(jobs_send_query(client, JOBS_TOPIC_TYPE_GET_PENDING, NULL, &delivery));
    sleep_ms(1500);
    if (jobs_connection_get_state(jobs_client_connection(client)) != JOBS_CONNECTION_STATE_ONLINE) {
        bench_fail("not online after 1.5 s idle");
    }
    report_process("idle", "iotjobs");
    print_top_mappings("iotjobs idle", 4);
    printf("RESULT idle_lib_threads iotjobs threads=%d\n", thread_count() - threads0);
    print_thread_names("INFO thread names:");
    jobs_client_free(client);
    return 0;
}

static void on_online(void *user_data)
{
    counter_add((counter *)user_data, false);
}

static int mode_conns(uint16_t port, long n)
{
    counter c;
    jobs_connection **conns = calloc((size_t)n, sizeof *conns);
    int threads0 = thread_count();
    long rss0 = proc_status_kb("VmRSS");
    uint64_t t0;
    uint64_t t1;
    uint64_t t2;
    long i;
    long online = 0;
    if (conns == NULL) {
        bench_fail("out of memory");
    }
    counter_init(&c);
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        char id[64];
        jobs_config *cfg;
        if (snprintf(id, sizeof id, "bench-conn-%05ld", i) >= (int)sizeof id) {
            bench_fail("client id too long");
        }
        cfg = endpoint_config(port, id);
        CHECK(jobs_config_set_user_data(cfg, &c));
        CHECK(jobs_config_set_on_online_offline(cfg, on_online, NULL));
        CHECK(jobs_connection_new(cfg, &conns[i]));
        jobs_config_free(cfg);
        CHECK(jobs_connection_connect_async(conns[i]));
    }
    if (!counter_wait_ge(&c, (uint64_t)n, 120000)) {
        fprintf(stderr, "iotjobs_bench: only %llu of %ld connections online after 120 s\n",
                (unsigned long long)counter_get(&c), n);
        exit(2);
    }
    t1 = now_ns();
    for (i = 0; i < n; i++) {
        if (jobs_connection_get_state(conns[i]) == JOBS_CONNECTION_STATE_ONLINE) {
            online++;
        }
    }
    printf("RESULT conns iotjobs n=%ld online=%ld secs_to_all_online=%.3f rss_kb=%ld "
           "rss_before_kb=%ld hwm_kb=%ld threads=%d threads_before=%d\n",
           n, online, (double)(t1 - t0) / 1e9, proc_status_kb("VmRSS"), rss0,
           proc_status_kb("VmHWM"), thread_count(), threads0);
    for (i = 0; i < n; i++) {
        jobs_connection_free(conns[i]);
    }
    t2 = now_ns();
    printf("RESULT conns_free iotjobs n=%ld secs=%.3f\n", n, (double)(t2 - t1) / 1e9);
    free(conns);
    return online == n ? 0 : 2;
}

static uint16_t parse_port(const char *s)
{
    long p = parse_long(s, "port");
    if (p < 1 || p > 65535) {
        bench_fail("port out of range");
    }
    return (uint16_t)p;
}

int main(int argc, char **argv)
{
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        bench_fail("setvbuf failed");
    }
    if (argc == 7 && strcmp(argv[1], "rt") == 0) {
        return mode_rt(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                       parse_long(argv[6], "WARMUP"));
    }
    if (argc == 7 && strcmp(argv[1], "rtraw") == 0) {
        return mode_rtraw(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                          parse_long(argv[6], "WARMUP"));
    }
    if (argc == 7 && strcmp(argv[1], "rr") == 0) {
        return mode_rr(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                       parse_long(argv[6], "WARMUP"));
    }
    if (argc == 8 && strcmp(argv[1], "tp") == 0) {
        return mode_tp(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                       parse_long(argv[6], "WINDOW"), parse_long(argv[7], "BYTES"));
    }
    if (argc == 4 && strcmp(argv[1], "idle") == 0) {
        return mode_idle(parse_port(argv[2]), argv[3]);
    }
    if (argc == 4 && strcmp(argv[1], "conns") == 0) {
        return mode_conns(parse_port(argv[2]), parse_long(argv[3], "N"));
    }
    fprintf(stderr, "usage: iotjobs_bench rt|rtraw|rr PORT THING JOB N WARMUP | tp PORT CLIENT_ID TOPIC N "
                    "WINDOW BYTES | idle PORT THING | conns PORT N\n");
    return 2;
}
