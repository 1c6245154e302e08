// The consumer's C++ program: the installed C++ wrapper (iotjobs.hpp) through
// iotjobs::iotjobs_cpp or pkg-config: version, a config error carried with its code, a
// connection created (never connected) and destroyed, a document read by path. Exits 0 when
// all is as documented.
#include <cstdio>
#include <string>

#include <iotjobs.hpp>

int main() {
    int failures = 0;
    const std::string expected = "iotjobs/" + std::to_string(JOBS_VERSION_MAJOR) + "." +
                                 std::to_string(JOBS_VERSION_MINOR) + "." +
                                 std::to_string(JOBS_VERSION_PATCH);
    if (iotjobs::version().substr(0, expected.size()) != expected) {
        std::fprintf(stderr, "version() = '%s', header says %s\n",
                     std::string(iotjobs::version()).c_str(), expected.c_str());
        failures++;
    }

    iotjobs::Config bad;
    bad.endpoint("127.0.0.1", 0);
    iotjobs::Result<iotjobs::Connection> refused = iotjobs::Connection::create(bad);
    if (refused.ok() || refused.error().code() != JOBS_RESULT_INVALID_ARGUMENT ||
        refused.error().message().empty()) {
        std::fprintf(stderr, "port 0 was not refused with a message\n");
        failures++;
    }

    iotjobs::Config config;
    config.endpoint("127.0.0.1", 1883).transport(JOBS_TRANSPORT_TCP);
    iotjobs::Result<iotjobs::Connection> connection = iotjobs::Connection::create(config);
    if (!connection || connection->state() != JOBS_CONNECTION_STATE_DISCONNECTED) {
        std::fprintf(stderr, "could not create a disconnected connection\n");
        failures++;
    }

    iotjobs::Result<iotjobs::Document> doc = iotjobs::Document::parse(R"({"steps":[1,2]})");
    if (!doc || doc->array_length("steps").value_or(0) != 2 ||
        !doc->get_int("steps[2]").error().missing()) {
        std::fprintf(stderr, "the document reads wrong\n");
        failures++;
    }
    std::printf("consumer (C++): %s, %s\n", std::string(iotjobs::version()).c_str(),
                failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
