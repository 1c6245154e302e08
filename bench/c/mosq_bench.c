/* libmosquitto side of the benchmarks (threaded loop: mosquitto_loop_start). Modes:
 *   rt   PORT THING JOB N WARMUP NODELAY       publish QoS 1 to .../update, wait for .../accepted
 *   tp   PORT CLIENT_ID TOPIC N WINDOW BYTES NODELAY   QoS 1 publishes, PUBACKs counted
 *   idle PORT THING                            RSS and threads of a connected, subscribed client
 *   conns PORT N                               N clients in one process, a loop thread each
 * Every number is printed as a "RESULT ..." line; any failure exits 2. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <mosquitto.h>

typedef struct {
    counter connected;
    counter subscribed;
    counter replies; /* accepted -> n, rejected -> errors */
    counter acks;
} state;

#define MCHECK(call)                                                                               \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MOSQ_ERR_SUCCESS) {                                                             \
            fprintf(stderr, "mosq_bench: %s failed: %s\n", #call, mosquitto_strerror(rc_));       \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)m;
    counter_add(&((state *)ud)->connected, rc != 0);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int qos_count, const int *granted)
{
    (void)m;
    (void)mid;
    counter_add(&((state *)ud)->subscribed, qos_count < 1 || granted[0] > 1);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s);
    size_t b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    if (ends_with(msg->topic, "/update/accepted")) {
        counter_add(&((state *)ud)->replies, false);
    } else if (ends_with(msg->topic, "/update/rejected")) {
        fprintf(stderr, "mosq_bench: update rejected: %.*s\n", msg->payloadlen,
                (const char *)msg->payload);
        counter_add(&((state *)ud)->replies, true);
    }
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    (void)m;
    (void)mid;
    counter_add(&((state *)ud)->acks, false);
}

static struct mosquitto *connect_client(state *st, uint16_t port, const char *id, bool nodelay,
                                        int inflight)
{
    struct mosquitto *m;
    counter_init(&st->connected);
    counter_init(&st->subscribed);
    counter_init(&st->replies);
    counter_init(&st->acks);
    m = mosquitto_new(id, true, st);
    if (m == NULL) {
        bench_fail("mosquitto_new failed");
    }
    MCHECK(mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311));
    MCHECK(mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, nodelay ? 1 : 0));
    MCHECK(mosquitto_max_inflight_messages_set(m, (unsigned int)inflight));
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_publish_callback_set(m, on_publish);
    {
        const char *cert = NULL;
        const char *key = NULL;
        const char *ca = tls_env(&cert, &key);
        if (ca != NULL) {
            /* Mutual TLS (OpenSSL); the server certificate names 127.0.0.1. */
            MCHECK(mosquitto_tls_set(m, ca, NULL, cert, key, NULL));
        }
    }
    MCHECK(mosquitto_connect(m, "127.0.0.1", port, 600));
    MCHECK(mosquitto_loop_start(m));
    if (!counter_wait_ge(&st->connected, 1, 10000)) {
        bench_fail("no CONNACK within 10 s");
    }
    return m;
}

static void subscribe(struct mosquitto *m, state *st, const char *filter)
{
    uint64_t target = counter_get(&st->subscribed) + 1;
    MCHECK(mosquitto_subscribe(m, NULL, filter, 1));
    if (!counter_wait_ge(&st->subscribed, target, 10000)) {
        bench_fail("no SUBACK within 10 s");
    }
}

static void shutdown_client(struct mosquitto *m)
{
    MCHECK(mosquitto_disconnect(m));
    MCHECK(mosquitto_loop_stop(m, false));
    mosquitto_destroy(m);
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
    struct mosquitto *m;
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
                    "{\"status\":\"IN_PROGRESS\",\"clientToken\":\"bench-mosq-rt\"}");
    if (plen < 0 || plen >= (int)sizeof payload) {
        bench_fail("payload too long");
    }
    m = connect_client(&st, port, "bench-mosq-rt", nodelay, 20);
    subscribe(m, &st, filter);
    for (i = 0; i < warmup + n; i++) {
        if (i == warmup) {
            u0 = usage_now();
        }
        uint64_t target = counter_get(&st.replies) + 1;
        uint64_t t0 = now_ns();
        MCHECK(mosquitto_publish(m, NULL, topic, plen, payload, 1, false));
        if (!counter_wait_ge(&st.replies, target, 10000)) {
            bench_fail("no update/accepted within 10 s (or a rejection)");
        }
        if (i >= warmup) {
            lat[i - warmup] = now_ns() - t0;
        }
    }
    report_cost("rt", nodelay ? "libmosquitto(nodelay)" : "libmosquitto(nagle)", u0, usage_now(), n);
    report_latencies(nodelay ? "libmosquitto(nodelay)" : "libmosquitto(nagle)", lat, (size_t)n);
    report_process("after_rt", "libmosquitto");
    shutdown_client(m);
    free(lat);
    return 0;
}

static int mode_tp(uint16_t port, const char *id, const char *topic, long n, long window,
                   long bytes, bool nodelay)
{
    state st;
    char *payload = malloc((size_t)bytes + 1);
    struct mosquitto *m;
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
    /* In-flight limit = the window (0 would mean unlimited; the window bounds it anyway). */
    m = connect_client(&st, port, id, nodelay, (int)window);
    u0 = usage_now();
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        if (i >= window && !counter_wait_ge(&st.acks, (uint64_t)(i - window + 1), 30000)) {
            bench_fail("acks stopped arriving (30 s)");
        }
        MCHECK(mosquitto_publish(m, NULL, topic, (int)bytes, payload, 1, false));
    }
    if (!counter_wait_ge(&st.acks, (uint64_t)n, 60000)) {
        bench_fail("not every PUBACK arrived within 60 s");
    }
    t1 = now_ns();
    secs = (double)(t1 - t0) / 1e9;
    report_cost("tp", nodelay ? "libmosquitto(nodelay)" : "libmosquitto(nagle)", u0, usage_now(), n);
    printf("RESULT tp libmosquitto(%s) n=%ld window=%ld bytes=%ld secs=%.3f msgs_per_s=%.0f "
           "topic=%s\n",
           nodelay ? "nodelay" : "nagle", n, window, bytes, secs, (double)n / secs, topic);
    shutdown_client(m);
    free(payload);
    return 0;
}

static int mode_idle(uint16_t port, const char *thing)
{
    state st;
    char filter[300];
    struct mosquitto *m;
    int threads0 = thread_count();
    report_process("idle_before", "libmosquitto");
    if (snprintf(filter, sizeof filter, "$aws/things/%s/jobs/notify-next", thing) >=
        (int)sizeof filter) {
        bench_fail("topic too long");
    }
    m = connect_client(&st, port, "bench-mosq-idle", true, 20);
    subscribe(m, &st, filter);
    sleep_ms(1500);
    report_process("idle", "libmosquitto");
    print_top_mappings("libmosquitto idle", 4);
    printf("RESULT idle_lib_threads libmosquitto threads=%d\n", thread_count() - threads0);
    shutdown_client(m);
    return 0;
}

/* N clients in one process, each with its own loop thread (libmosquitto's threaded model). */
static int mode_conns(uint16_t port, long n)
{
    state st;
    struct mosquitto **ms = calloc((size_t)n, sizeof *ms);
    int threads0 = thread_count();
    long rss0 = proc_status_kb("VmRSS");
    uint64_t t0;
    uint64_t t1;
    long i;
    if (ms == NULL) {
        bench_fail("out of memory");
    }
    counter_init(&st.connected);
    counter_init(&st.subscribed);
    counter_init(&st.replies);
    counter_init(&st.acks);
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        char id[64];
        if (snprintf(id, sizeof id, "bench-mconn-%05ld", i) >= (int)sizeof id) {
            bench_fail("client id too long");
        }
        ms[i] = mosquitto_new(id, true, &st);
        if (ms[i] == NULL) {
            bench_fail("mosquitto_new failed");
        }
        MCHECK(mosquitto_int_option(ms[i], MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311));
        mosquitto_connect_callback_set(ms[i], on_connect);
        MCHECK(mosquitto_connect_async(ms[i], "127.0.0.1", port, 600));
        MCHECK(mosquitto_loop_start(ms[i]));
    }
    if (!counter_wait_ge(&st.connected, (uint64_t)n, 120000)) {
        fprintf(stderr, "mosq_bench: only %llu of %ld connected after 120 s\n",
                (unsigned long long)counter_get(&st.connected), n);
        exit(2);
    }
    t1 = now_ns();
    printf("RESULT conns libmosquitto n=%ld online=%llu secs_to_all_online=%.3f rss_kb=%ld "
           "rss_before_kb=%ld hwm_kb=%ld threads=%d threads_before=%d\n",
           n, (unsigned long long)counter_get(&st.connected), (double)(t1 - t0) / 1e9,
           proc_status_kb("VmRSS"), rss0, proc_status_kb("VmHWM"), thread_count(), threads0);
    for (i = 0; i < n; i++) {
        MCHECK(mosquitto_disconnect(ms[i]));
    }
    for (i = 0; i < n; i++) {
        MCHECK(mosquitto_loop_stop(ms[i], false));
        mosquitto_destroy(ms[i]);
    }
    free(ms);
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
    int rc = 2;
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        bench_fail("setvbuf failed");
    }
    MCHECK(mosquitto_lib_init());
    if (argc == 8 && strcmp(argv[1], "rt") == 0) {
        rc = mode_rt(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                     parse_long(argv[6], "WARMUP"), parse_long(argv[7], "NODELAY") != 0);
    } else if (argc == 9 && strcmp(argv[1], "tp") == 0) {
        rc = mode_tp(parse_port(argv[2]), argv[3], argv[4], parse_long(argv[5], "N"),
                     parse_long(argv[6], "WINDOW"), parse_long(argv[7], "BYTES"),
                     parse_long(argv[8], "NODELAY") != 0);
    } else if (argc == 4 && strcmp(argv[1], "conns") == 0) {
        rc = mode_conns(parse_port(argv[2]), parse_long(argv[3], "N"));
    } else if (argc == 4 && strcmp(argv[1], "idle") == 0) {
        rc = mode_idle(parse_port(argv[2]), argv[3]);
    } else {
        fprintf(stderr, "usage: mosq_bench rt PORT THING JOB N WARMUP NODELAY | tp PORT CLIENT_ID "
                        "TOPIC N WINDOW BYTES NODELAY | idle PORT THING | conns PORT N\n");
    }
    MCHECK(mosquitto_lib_cleanup());
    return rc;
}
