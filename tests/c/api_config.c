/*
 * Bad input at every jobs_config_* setter: each failing call returns exactly the code its
 * header documentation names and leaves a non-empty last-error message on this thread; frees
 * accept NULL.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

/* Never called: the connections these configs would make are not created here. */
static int32_t test_credentials(void *user_data, jobs_credentials_sink *sink) {
    (void)user_data;
    (void)sink;
    return 1;
}

static int32_t test_sign(void *user_data, uint16_t scheme, const uint8_t *message, size_t message_len,
                         uint8_t *signature, size_t *signature_len) {
    (void)user_data;
    (void)scheme;
    (void)message;
    (void)message_len;
    (void)signature;
    (void)signature_len;
    return 1;
}

static int32_t test_pem(void *user_data, jobs_pem_sink *sink) {
    (void)user_data;
    (void)sink;
    return 1;
}

static void test_config_args(void) {
    jobs_config *cfg = NULL;
    jobs_config *untouched = (jobs_config *)&test_passed;
    char big[300];
    static uint8_t payload[70000];
    const double not_a_number = strtod("nan", NULL);
    const double infinity = strtod("inf", NULL);

    /* jobs_config_new / jobs_config_free */
    CHECK_FAILS(jobs_config_new(NULL), JOBS_RESULT_NULL_ARGUMENT);
    jobs_config_free(NULL);
    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    CHECK(cfg != NULL);
    if (cfg == NULL) return;
    CHECK(untouched == (jobs_config *)&test_passed);

    /* jobs_config_set_endpoint: NULL, UTF-8, host 1-253 bytes, port 1-65535 */
    CHECK_FAILS(jobs_config_set_endpoint(NULL, "localhost", 1883), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, NULL, 1883), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, TEST_BAD_UTF8_TRUNCATED, 1883), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, "", 1883), JOBS_RESULT_INVALID_ARGUMENT);
    memset(big, 'h', 254);
    big[254] = '\0';
    CHECK_FAILS(jobs_config_set_endpoint(cfg, big, 1883), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, "localhost", 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_endpoint(cfg, "localhost", 65535), JOBS_RESULT_OK);

    /* jobs_config_set_transport: enum taken as an integer */
    CHECK_FAILS(jobs_config_set_transport(NULL, JOBS_TRANSPORT_TCP), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET_TLS), TEST_WEBSOCKET_RC);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET), TEST_WEBSOCKET_RC);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);

    /* jobs_config_set_iam_credentials: refused in a build without WebSocket; clearing always works */
    CHECK_RC(jobs_config_set_iam_credentials(cfg, "AKID", "secret", NULL, "eu-west-1"), TEST_WEBSOCKET_RC);
    CHECK_RC(jobs_config_set_iam_credentials(cfg, NULL, NULL, NULL, NULL), JOBS_RESULT_OK);

    /* jobs_config_set_credentials_provider: region NULL or 1-64 bytes; refused without WebSocket */
    CHECK_FAILS(jobs_config_set_credentials_provider(NULL, test_credentials, NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_credentials_provider(cfg, test_credentials, NULL, TEST_BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_credentials_provider(cfg, test_credentials, NULL, ""), JOBS_RESULT_INVALID_ARGUMENT);
    memset(big, 'r', 65);
    big[65] = '\0';
    CHECK_FAILS(jobs_config_set_credentials_provider(cfg, test_credentials, NULL, big), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_credentials_provider(cfg, test_credentials, NULL, "eu-west-1"), TEST_WEBSOCKET_RC);
    CHECK_RC(jobs_config_set_credentials_provider(cfg, NULL, NULL, NULL), JOBS_RESULT_OK);
    {
        jobs_credentials creds;
        CHECK_FAILS(jobs_credentials_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
        CHECK_RC(jobs_credentials_init(&creds), JOBS_RESULT_OK);
        CHECK(creds.struct_size == sizeof creds);
        CHECK(creds.access_key_id == NULL && creds.expires_at == 0);
        CHECK_FAILS(jobs_credentials_set(NULL, &creds), JOBS_RESULT_NULL_ARGUMENT);
    }

    /* jobs_config_set_key_signer: 1-16 schemes of one algorithm */
    {
        const uint16_t ecdsa[] = {0x0403};
        const uint16_t mixed[] = {0x0403, 0x0804};
        const uint16_t sha1[] = {0x0201};
        CHECK_FAILS(jobs_config_set_key_signer(NULL, ecdsa, 1, test_sign, NULL), JOBS_RESULT_NULL_ARGUMENT);
        CHECK_FAILS(jobs_config_set_key_signer(cfg, NULL, 1, test_sign, NULL), JOBS_RESULT_NULL_ARGUMENT);
        CHECK_FAILS(jobs_config_set_key_signer(cfg, ecdsa, 0, test_sign, NULL), JOBS_RESULT_INVALID_ARGUMENT);
        CHECK_FAILS(jobs_config_set_key_signer(cfg, mixed, 2, test_sign, NULL), JOBS_RESULT_INVALID_ARGUMENT);
        CHECK_FAILS(jobs_config_set_key_signer(cfg, sha1, 1, test_sign, NULL), JOBS_RESULT_INVALID_ARGUMENT);
        CHECK_RC(jobs_config_set_key_signer(cfg, ecdsa, 1, test_sign, NULL), JOBS_RESULT_OK);
        CHECK_RC(jobs_config_set_key_signer(cfg, NULL, 0, NULL, NULL), JOBS_RESULT_OK);
        CHECK(JOBS_SIGNATURE_MAX >= 1024);
    }

    /* jobs_config_set_cert_provider, jobs_pem_set */
    CHECK_FAILS(jobs_config_set_cert_provider(NULL, test_pem, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_cert_provider(cfg, test_pem, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_cert_provider(cfg, NULL, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_pem_set(NULL, (const uint8_t *)"x", 1, NULL, 0), JOBS_RESULT_NULL_ARGUMENT);

    /* jobs_config_set_client_id: at most 128 bytes; NULL or empty means generated */
    CHECK_FAILS(jobs_config_set_client_id(NULL, "id"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_client_id(cfg, TEST_BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    memset(big, 'c', 129);
    big[129] = '\0';
    CHECK_FAILS(jobs_config_set_client_id(cfg, big), JOBS_RESULT_INVALID_ARGUMENT);
    big[128] = '\0';
    CHECK_RC(jobs_config_set_client_id(cfg, big), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, ""), JOBS_RESULT_OK);

    /* jobs_config_set_protocol: 3 or 4 */
    CHECK_FAILS(jobs_config_set_protocol(NULL, JOBS_PROTOCOL_MQTT311), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT31), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT311), JOBS_RESULT_OK);

    /* jobs_config_set_clean_session, jobs_config_set_keep_alive (clamped, never refused) */
    CHECK_FAILS(jobs_config_set_clean_session(NULL, true), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_clean_session(cfg, true), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_keep_alive(NULL, 60), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 0), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 0xFFFFFFFFu), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 600), JOBS_RESULT_OK);

    /* jobs_config_set_username_password */
    CHECK_FAILS(jobs_config_set_username_password(NULL, "u", "p"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_username_password(cfg, TEST_BAD_UTF8, "p"), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_username_password(cfg, "u", TEST_BAD_UTF8_TRUNCATED), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_username_password(cfg, NULL, "p"), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_username_password(cfg, "u", NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_username_password(cfg, "u", "p"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_username_password(cfg, NULL, NULL), JOBS_RESULT_OK);

    /* jobs_config_set_last_will / jobs_config_clear_last_will */
    CHECK_FAILS(jobs_config_set_last_will(NULL, "will", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, NULL, (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, TEST_BAD_UTF8, (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will/#", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will/+/x", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", NULL, 3, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", payload, 65536, 0, false),
                JOBS_RESULT_PAYLOAD_TOO_LARGE);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", payload, (size_t)-1, 0, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", (const uint8_t *)"x", 1, 2, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", (const uint8_t *)"x", 1, 0xFFFFFFFFu, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_last_will(cfg, "will", NULL, 0, 1, true), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_last_will(cfg, "will/topic", (const uint8_t *)"bye", 3, 1, false),
             JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_clear_last_will(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_clear_last_will(cfg), JOBS_RESULT_OK);

    /* jobs_config_set_timeouts: both 1-3600000 ms */
    CHECK_FAILS(jobs_config_set_timeouts(NULL, 1000, 1000), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 0, 1000), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 1000, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 3600001, 1000), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 1000, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_timeouts(cfg, 3600000, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 30000, 5000), JOBS_RESULT_OK);

    /* jobs_config_set_max_packet_size: 128-268435455 */
    CHECK_FAILS(jobs_config_set_max_packet_size(NULL, 4096), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 127), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 268435456), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, (size_t)-1), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 128), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 268435455), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 131072), JOBS_RESULT_OK);

    /* jobs_config_set_alpn: at most 255 bytes; empty offers none */
    CHECK_FAILS(jobs_config_set_alpn(NULL, "x-amzn-mqtt-ca"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_alpn(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_alpn(cfg, TEST_BAD_UTF8_TRUNCATED), JOBS_RESULT_INVALID_UTF8);
    memset(big, 'a', 256);
    big[256] = '\0';
    CHECK_FAILS(jobs_config_set_alpn(cfg, big), JOBS_RESULT_INVALID_ARGUMENT);
    big[255] = '\0';
    CHECK_RC(jobs_config_set_alpn(cfg, big), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_alpn(cfg, ""), JOBS_RESULT_OK);

    /* jobs_config_set_backoff: 0 < base <= max, base < stable */
    CHECK_FAILS(jobs_config_set_backoff(NULL, 1000, 32000, 20000, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 0, 32000, 20000, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 4000, 2000, 20000, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 1000, 32000, 1000, true),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_backoff(cfg, 1000, 1000, 1001, true), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_backoff(cfg, 1000, 32000, 20000, false), JOBS_RESULT_OK);

    /* jobs_config_set_offline_queue: size -1, 0 or N > 0; policy 0 or 1 */
    CHECK_FAILS(jobs_config_set_offline_queue(NULL, -1, JOBS_DROP_POLICY_DROP_NEWEST),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, -2, JOBS_DROP_POLICY_DROP_NEWEST),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, INT64_MIN, JOBS_DROP_POLICY_DROP_OLDEST),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, 10, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, 10, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_offline_queue(cfg, 0, JOBS_DROP_POLICY_DROP_OLDEST), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_offline_queue(cfg, INT64_MAX, JOBS_DROP_POLICY_DROP_OLDEST),
             JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_offline_queue(cfg, -1, JOBS_DROP_POLICY_DROP_NEWEST), JOBS_RESULT_OK);

    /* jobs_config_set_draining_rate: finite, >= 0 */
    CHECK_FAILS(jobs_config_set_draining_rate(NULL, 2.0), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, -1.0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, not_a_number), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, infinity), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, -infinity), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_draining_rate(cfg, 0.0), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_draining_rate(cfg, 2.0), JOBS_RESULT_OK);

    /* callbacks and user data: only the config may not be NULL */
    CHECK_FAILS(jobs_config_set_user_data(NULL, cfg), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_user_data(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_online_offline(NULL, NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_online_offline(cfg, NULL, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_message(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_message(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_event(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_event(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_log(NULL, NULL, JOBS_LOG_LEVEL_INFO), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_log(cfg, NULL, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_log(cfg, NULL, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_log(cfg, NULL, JOBS_LOG_LEVEL_DEBUG), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_log(cfg, NULL, JOBS_LOG_LEVEL_OFF), JOBS_RESULT_OK);

    jobs_config_free(cfg);
}

int main(void) {
    test_config_args();
    return test_finish();
}
