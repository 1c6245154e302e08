/* Eclipse Paho C, asynchronous API (MQTTAsync, libpaho-mqtt3a). Modes:
 *   rt   PORT THING JOB N WARMUP NODELAY  MQTTAsync_sendMessage QoS 1 to .../update, wait .../accepted
 *   tp   PORT CLIENT_ID TOPIC N WINDOW BYTES NODELAY  QoS 1 sends, onSuccess (PUBACK) counted
 *   idle PORT THING                     RSS and threads of a connected, subscribed client
 * Every number is printed as a "RESULT ..." line; any failure exits 2.
 * Built twice: against libpaho-mqtt3a (plain TCP) and, with -DBENCH_PAHO_TLS, against
 * libpaho-mqtt3as for the mutual-TLS runs (BENCH_TLS_* environment variables). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <MQTTAsync.h>

typedef struct {
    counter connected;
    counter subscribed;
    counter replies;
    counter acks;
} state;

#define PCHECK(call)                                                                               \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MQTTASYNC_SUCCESS) {                                                            \
            fprintf(stderr, "paho_async_bench: %s failed: %d\n", #call, rc_);                      \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static void on_connect_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    counter_add(&((state *)ctx)->connected, false);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)r;
    counter_add(&((state *)ctx)->connected, true);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData *r)
{
    counter_add(&((state *)ctx)->subscribed, r->alt.qos > 1);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)r;
    counter_add(&((state *)ctx)->subscribed, true);
}

static void on_send_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    counter_add(&((state *)ctx)->acks, false);
}

static void on_send_fail(void *ctx, MQTTAsync_failureData *r)
{
    (void)r;
    counter_add(&((state *)ctx)->acks, true);
}

static bool ends_with(const char *s, size_t a, const char *suffix)
{
    size_t b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    state *st = (state *)ctx;
    if (ends_with(topic, tl, "/update/accepted")) {
        counter_add(&st->replies, false);
    } else if (ends_with(topic, tl, "/update/rejected")) {
        fprintf(stderr, "paho_async_bench: update rejected: %.*s\n", msg->payloadlen,
                (const char *)msg->payload);
        counter_add(&st->replies, true);
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_lost(void *ctx, char *cause)
{
    (void)ctx;
    fprintf(stderr, "paho_async_bench: connection lost: %s\n", cause != NULL ? cause : "?");
    exit(2);
}

static MQTTAsync connect_client(state *st, uint16_t port, const char *id, int max_inflight,
                                bool nodelay)
{
    MQTTAsync c;
    char uri[64];
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    const char *cert = NULL;
    const char *key = NULL;
    const char *ca = tls_env(&cert, &key);
#ifdef BENCH_PAHO_TLS
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
#endif
    counter_init(&st->connected);
    counter_init(&st->subscribed);
    counter_init(&st->replies);
    counter_init(&st->acks);
    if (snprintf(uri, sizeof uri, "%s://127.0.0.1:%u", ca != NULL ? "ssl" : "tcp", (unsigned)port) >=
        (int)sizeof uri) {
        bench_fail("uri too long");
    }
    PCHECK(MQTTAsync_create(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL));
    PCHECK(MQTTAsync_setCallbacks(c, st, on_lost, on_message, NULL));
    co.keepAliveInterval = 600;
    co.cleansession = 1;
    co.maxInflight = max_inflight;
    co.onSuccess = on_connect_ok;
    co.onFailure = on_connect_fail;
    co.context = st;
    if (ca != NULL) {
#ifdef BENCH_PAHO_TLS
        /* Mutual TLS (OpenSSL), server certificate and host name verified. */
        ssl.trustStore = ca;
        ssl.keyStore = cert;
        ssl.privateKey = key;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        co.ssl = &ssl;
#else
        bench_fail("this build has no TLS: compile with -DBENCH_PAHO_TLS and -lpaho-mqtt3as");
#endif
    }
    PCHECK(MQTTAsync_connect(c, &co));
    if (!counter_wait_ge(&st->connected, 1, 10000)) {
        bench_fail("no CONNACK within 10 s");
    }
    /* Paho has no TCP_NODELAY option: the bench sets it on paho's socket when asked. */
    if (nodelay && set_nodelay_on_peer_port(port) != 1) {
        bench_fail("could not find paho's socket to set TCP_NODELAY");
    }
    return c;
}

static void subscribe(MQTTAsync c, state *st, const char *filter)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    uint64_t target = counter_get(&st->subscribed) + 1;
    ro.onSuccess = on_sub_ok;
    ro.onFailure = on_sub_fail;
    ro.context = st;
    PCHECK(MQTTAsync_subscribe(c, filter, 1, &ro));
    if (!counter_wait_ge(&st->subscribed, target, 10000)) {
        bench_fail("no SUBACK within 10 s");
    }
}

static void shutdown_client(MQTTAsync c)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;
    PCHECK(MQTTAsync_disconnect(c, &d));
    sleep_ms(100);
    MQTTAsync_destroy(&c);
}

static void send_qos1(MQTTAsync c, state *st, const char *topic, void *payload, int len)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    m.payload = payload;
    m.payloadlen = len;
    m.qos = 1;
    m.retained = 0;
    ro.onSuccess = on_send_ok;
    ro.onFailure = on_send_fail;
    ro.context = st;
    PCHECK(MQTTAsync_sendMessage(c, topic, &m, &ro));
}

static int mode_rt(uint16_t port, const char *thing, const char *job, long n, long warmup,
                   bool nodelay)
{
    state st;
    char topic[300];
    char filter[300];
    char payload[128];
    int plen;
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    MQTTAsync c;
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
                    "{\"status\":\"IN_PROGRESS\",\"clientToken\":\"bench-paho-rt\"}");
    if (plen < 0 || plen >= (int)sizeof payload) {
        bench_fail("payload too long");
    }
    c = connect_client(&st, port, "bench-pahoa-rt", 10, nodelay);
    subscribe(c, &st, filter);
    for (i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            u0 = usage_now();
        }
        uint64_t target = counter_get(&st.replies) + 1;
        uint64_t t0 = now_ns();
        send_qos1(c, &st, topic, payload, plen);
        if (!counter_wait_ge(&st.replies, target, 10000)) {
            bench_fail("no update/accepted within 10 s (or a rejection)");
        }
        if (i >= warmup) {
            lat[i - warmup] = now_ns() - t0;
        }
    }
    if (counter_errors(&st.acks) != 0) {
        bench_fail("a publish failed");
    }
    report_cost("rt", nodelay ? "paho-c(MQTTAsync,nodelay)" : "paho-c(MQTTAsync,nagle)", u0,
                usage_now(), n);
    report_latencies(nodelay ? "paho-c(MQTTAsync,nodelay)" : "paho-c(MQTTAsync,nagle)", lat,
                     (size_t)n);
    report_process("after_rt", "paho-c(MQTTAsync)");
    shutdown_client(c);
    free(lat);
    return 0;
}

static int mode_tp(uint16_t port, const char *id, const char *topic, long n, long window,
                   long bytes, bool nodelay)
{
    state st;
    char *payload = malloc((size_t)bytes + 1);
    MQTTAsync c;
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
        const char *req = "{\"status\":\"IN_PROGRESS\"}";
        memset(payload, ' ', (size_t)bytes);
        memcpy(payload, req, strlen(req));
    }
    c = connect_client(&st, port, id, (int)(window < 65535 ? window : 65535), nodelay);
    u0 = usage_now();
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        if (i >= window && !counter_wait_ge(&st.acks, (uint64_t)(i - window + 1), 30000)) {
            bench_fail("acks stopped arriving (30 s) or a send failed");
        }
        send_qos1(c, &st, topic, payload, (int)bytes);
    }
    if (!counter_wait_ge(&st.acks, (uint64_t)n, 60000)) {
        bench_fail("not every PUBACK arrived within 60 s");
    }
    t1 = now_ns();
    secs = (double)(t1 - t0) / 1e9;
    report_cost("tp", nodelay ? "paho-c(MQTTAsync,nodelay)" : "paho-c(MQTTAsync,nagle)", u0,
                usage_now(), n);
    printf("RESULT tp paho-c(MQTTAsync,%s) n=%ld window=%ld bytes=%ld secs=%.3f msgs_per_s=%.0f "
           "topic=%s\n",
           nodelay ? "nodelay" : "nagle", n, window, bytes, secs, (double)n / secs, topic);
    shutdown_client(c);
    free(payload);
    return 0;
}

static int mode_idle(uint16_t port, const char *thing)
{
    state st;
    char filter[300];
    MQTTAsync c;
    int threads0 = thread_count();
    report_process("idle_before", "paho-c(MQTTAsync)");
    if (snprintf(filter, sizeof filter, "$aws/things/%s/jobs/notify-next", thing) >=
        (int)sizeof filter) {
        bench_fail("topic too long");
    }
    c = connect_client(&st, port, "bench-pahoa-idle", 10, false);
    subscribe(c, &st, filter);
    sleep_ms(1500);
    report_process("idle", "paho-c(MQTTAsync)");
    print_top_mappings("paho-c(MQTTAsync) idle", 4);
    printf("RESULT idle_lib_threads paho-c(MQTTAsync) threads=%d\n", thread_count() - threads0);
    shutdown_client(c);
    return 0;
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
    if (argc == 8 && strcmp(argv[1], "rt") == 0) {
        return mode_rt(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                       parse_long(argv[6], "WARMUP"), parse_long(argv[7], "NODELAY") != 0);
    }
    if (argc == 9 && strcmp(argv[1], "tp") == 0) {
        return mode_tp(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                       parse_long(argv[6], "WINDOW"), parse_long(argv[7], "BYTES"),
                       parse_long(argv[8], "NODELAY") != 0);
    }
    if (argc == 4 && strcmp(argv[1], "idle") == 0) {
        return mode_idle(parse_port(argv[2]), argv[3]);
    }
    fprintf(stderr, "usage: paho_async_bench rt PORT THING JOB N WARMUP NODELAY | tp PORT CLIENT_ID "
                    "TOPIC N WINDOW BYTES NODELAY | idle PORT THING\n");
    return 2;
}
