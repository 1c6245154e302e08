/* A minimal program using an installed iotjobs: version, a config, a connection that is
 * created (never connected) and freed, and error reporting. Exits 0 when all is as documented. */
#include <stdio.h>
#include <string.h>

#include <iotjobs.h>

int main(void) {
    char expected[32];
    char err[256];
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    const char *version = jobs_version();
    int failures = 0;

    snprintf(expected, sizeof expected, "iotjobs/%d.%d.%d", JOBS_VERSION_MAJOR,
             JOBS_VERSION_MINOR, JOBS_VERSION_PATCH);
    if (version == NULL || strncmp(version, expected, strlen(expected)) != 0) {
        fprintf(stderr, "jobs_version() = '%s', header says %s\n", version ? version : "(null)",
                expected);
        failures++;
    }
    if (jobs_config_new(&cfg) != JOBS_RESULT_OK || cfg == NULL) {
        fprintf(stderr, "jobs_config_new failed\n");
        return 1;
    }
    if (jobs_config_set_endpoint(cfg, "127.0.0.1", 0) != JOBS_RESULT_INVALID_ARGUMENT ||
        jobs_last_error_message(err, sizeof err) == 0) {
        fprintf(stderr, "port 0 was not refused with a message\n");
        failures++;
    }
    if (jobs_config_set_endpoint(cfg, "127.0.0.1", 1883) != JOBS_RESULT_OK ||
        jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP) != JOBS_RESULT_OK ||
        jobs_connection_new(cfg, &conn) != JOBS_RESULT_OK || conn == NULL) {
        fprintf(stderr, "could not create a connection\n");
        failures++;
    }
    if (conn != NULL &&
        jobs_connection_get_state(conn) != JOBS_CONNECTION_STATE_DISCONNECTED) {
        fprintf(stderr, "a new connection is not disconnected\n");
        failures++;
    }
    jobs_connection_free(conn);
    jobs_config_free(cfg);
    printf("consumer: %s, %s\n", version ? version : "(null)", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
