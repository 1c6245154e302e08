/*
 * A plain-TCP round trip through the connection API: connects to the server named by
 * argv[1]/argv[2] (or IOTJOBS_TEST_HOST/IOTJOBS_TEST_PORT), subscribes (blocking and async),
 * publishes QoS 1 to itself, receives the message in the connection's and the subscription's
 * callbacks with the right user data, unsubscribes, disconnects, queues a publish while
 * offline, and frees.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

#include <unistd.h>

struct echo_state {
    pthread_mutex_t lock;
    int online;
    int offline;
    int messages;      /* per-subscription callback */
    int conn_messages; /* connection-level on_message */
    int bad_user_data;
    char topic[128];
    size_t topic_len;
    unsigned char payload[64];
    size_t payload_len;
    int acks;
    uint16_t ack_packet_id[4];
    uint32_t ack_result[4];
    uint8_t ack_granted[4];
};

static struct echo_state state;

static void on_online(void *user_data) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->online++;
    pthread_mutex_unlock(&st->lock);
}

static void on_offline(void *user_data) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->offline++;
    pthread_mutex_unlock(&st->lock);
}

static void on_conn_message(void *user_data, const char *topic, size_t topic_len,
                            const uint8_t *payload, size_t payload_len) {
    struct echo_state *st = (struct echo_state *)user_data;
    (void)topic;
    (void)topic_len;
    (void)payload;
    (void)payload_len;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->conn_messages++;
    pthread_mutex_unlock(&st->lock);
}

static void on_sub_message(void *user_data, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->messages++;
    st->topic_len = topic_len;
    if (topic_len < sizeof st->topic && strlen(topic) == topic_len) {
        memcpy(st->topic, topic, topic_len + 1);
    } else {
        st->topic[0] = '\0';
    }
    st->payload_len = payload_len;
    if (payload_len <= sizeof st->payload) memcpy(st->payload, payload, payload_len);
    pthread_mutex_unlock(&st->lock);
}

static void on_ack(void *user_data, uint16_t packet_id, jobs_result result, uint8_t granted_qos) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    if (st->acks < 4) {
        st->ack_packet_id[st->acks] = packet_id;
        st->ack_result[st->acks] = (uint32_t)result;
        st->ack_granted[st->acks] = granted_qos;
    }
    st->acks++;
    pthread_mutex_unlock(&st->lock);
}

/* Waits (at most timeout_ms) until *counter reaches target; returns whether it did. */
static int wait_for(int *counter, int target, long timeout_ms) {
    long waited = 0;
    for (;;) {
        int v;
        pthread_mutex_lock(&state.lock);
        v = *counter;
        pthread_mutex_unlock(&state.lock);
        if (v >= target) return 1;
        if (waited >= timeout_ms) return 0;
        test_sleep_ms(10);
        waited += 10;
    }
}

static int wait_for_state(jobs_connection *conn, uint32_t want, long timeout_ms) {
    long waited = 0;
    while (jobs_connection_get_state(conn) != want) {
        if (waited >= timeout_ms) return 0;
        test_sleep_ms(10);
        waited += 10;
    }
    return 1;
}

static void test_round_trip(const char *host, uint16_t port) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    char client_id[64];
    char filter[96];
    char topic[96];
    char async_filter[96];
    char buf[128];
    static const char message[] = "hello from C";
    uint32_t delivery = 77;
    uint16_t packet_id = 0;
    uint8_t granted = 99;
    uint64_t value = 0;
    /* Unique per process, so parallel runs (ctest -j, C and C++ builds) never share a client id. */
    unsigned long tag = ((unsigned long)getpid() << 16) ^ (unsigned long)time(NULL);

    snprintf(client_id, sizeof client_id, "iotjobs-c-args-%lx", tag);
    snprintf(filter, sizeof filter, "iotjobs-test/%lx/+", tag);
    snprintf(topic, sizeof topic, "iotjobs-test/%lx/echo", tag);
    snprintf(async_filter, sizeof async_filter, "iotjobs-test/%lx/async/#", tag);

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_RC(jobs_config_set_endpoint(cfg, host, port), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, client_id), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 5000, 5000), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_user_data(cfg, &state), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_on_online_offline(cfg, on_online, on_offline), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_on_message(cfg, on_conn_message), JOBS_RESULT_OK);
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return;

    CHECK(jobs_connection_get_state(conn) == JOBS_CONNECTION_STATE_DISCONNECTED);
    CHECK(jobs_connection_client_id(conn, buf, sizeof buf) == strlen(client_id));
    CHECK(strcmp(buf, client_id) == 0);

    CHECK_RC(jobs_connection_connect(conn), JOBS_RESULT_OK);
    CHECK(wait_for(&state.online, 1, 5000));
    CHECK(wait_for_state(conn, JOBS_CONNECTION_STATE_ONLINE, 5000));
    CHECK_RC(jobs_connection_connect(conn), JOBS_RESULT_OK); /* already connected */

    /* Blocking subscribe (SUBACK), blocking QoS 1 publish (PUBACK), message back. */
    CHECK_RC(jobs_connection_subscribe(conn, filter, 1, on_sub_message, &state, &granted,
                                       &delivery),
             JOBS_RESULT_OK);
    CHECK(granted == 1);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    delivery = 77;
    CHECK_RC(jobs_connection_publish(conn, topic, (const uint8_t *)message, strlen(message), 1,
                                     false, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.messages, 1, 5000));
    CHECK(wait_for(&state.conn_messages, 1, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.topic_len == strlen(topic) && strcmp(state.topic, topic) == 0);
    CHECK(state.payload_len == strlen(message) &&
          memcmp(state.payload, message, strlen(message)) == 0);
    pthread_mutex_unlock(&state.lock);

    /* Asynchronous QoS 1 publish: the ack names the packet id returned here. */
    CHECK_RC(jobs_connection_publish_async(conn, topic, (const uint8_t *)"2", 1, 1, false, on_ack,
                                           &state, &packet_id, &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.acks, 1, 5000));
    CHECK(wait_for(&state.messages, 2, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[0] == packet_id);
    CHECK(state.ack_result[0] == JOBS_RESULT_OK);
    CHECK(state.payload_len == 1 && state.payload[0] == '2');
    pthread_mutex_unlock(&state.lock);

    /* Asynchronous subscribe: the ack gives the granted QoS. */
    packet_id = 0;
    CHECK_RC(jobs_connection_subscribe_async(conn, async_filter, 0, NULL, NULL, on_ack, &state,
                                             &packet_id, &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.acks, 2, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[1] == packet_id);
    CHECK(state.ack_result[1] == JOBS_RESULT_OK);
    CHECK(state.ack_granted[1] == 0);
    pthread_mutex_unlock(&state.lock);

    /* Counters saw the traffic. */
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_PUBLISHED, &value), JOBS_RESULT_OK);
    CHECK(value >= 2);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_RECEIVED, &value), JOBS_RESULT_OK);
    CHECK(value >= 2);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_RECONNECTS, &value), JOBS_RESULT_OK);
    CHECK(value == 0);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_DROPPED, &value), JOBS_RESULT_OK);
    CHECK(value == 0);

    /* Unsubscribe, blocking and asynchronous. */
    CHECK_RC(jobs_connection_unsubscribe(conn, filter, &delivery), JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    packet_id = 0;
    CHECK_RC(jobs_connection_unsubscribe_async(conn, async_filter, on_ack, &state, &packet_id,
                                               &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(wait_for(&state.acks, 3, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[2] == packet_id);
    CHECK(state.ack_result[2] == JOBS_RESULT_OK);
    pthread_mutex_unlock(&state.lock);

    /* Disconnect; a publish while offline goes to the (default, unbounded) queue. */
    CHECK_RC(jobs_connection_disconnect(conn), JOBS_RESULT_OK);
    CHECK(wait_for_state(conn, JOBS_CONNECTION_STATE_DISCONNECTED, 5000));
    CHECK(wait_for(&state.offline, 1, 5000));
    delivery = 77;
    CHECK_RC(jobs_connection_publish(conn, topic, (const uint8_t *)"q", 1, 1, false, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &value), JOBS_RESULT_OK);
    CHECK(value == 1);

    jobs_connection_free(conn); /* drops the queued request; no callback runs after this */
    pthread_mutex_lock(&state.lock);
    CHECK(state.bad_user_data == 0);
    CHECK(state.acks == 3);
    pthread_mutex_unlock(&state.lock);
}

int main(int argc, char **argv) {
    const char *host = NULL;
    uint16_t port = 0;

    test_server(argc, argv, &host, &port);
    memset(&state, 0, sizeof state);
    pthread_mutex_init(&state.lock, NULL);
    test_round_trip(host, port);
    pthread_mutex_destroy(&state.lock);
    return test_finish();
}
