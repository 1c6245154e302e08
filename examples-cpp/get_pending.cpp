// get_pending.cpp: lists a thing's pending jobs with the C++ wrapper (iotjobs.hpp), then
// describes the first one and prints its job document.
//
//   get_pending --endpoint HOST --thing NAME [--port N] [--plain | --ca F --cert F --key F]
//
// Output: one line per pending execution, "in-progress JOB" or "queued JOB (version N)", then
// "document JOB: JSON" for the first, or "no pending job". Exit status: 0 when the listing was
// read, 1 on a connection or request failure, 2 on bad arguments. C++17, no exceptions needed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "iotjobs.hpp"

using namespace std::chrono_literals;

namespace {

struct Options {
    const char *endpoint = nullptr;
    const char *thing = nullptr;
    const char *ca = nullptr;
    const char *cert = nullptr;
    const char *key = nullptr;
    long port = 0; // 0: 8883 with TLS, 1883 plain
    bool plain = false;
};

int usage(const char *program) {
    std::fprintf(stderr,
                 "usage: %s --endpoint HOST --thing NAME [--port N] "
                 "[--plain | --ca FILE --cert FILE --key FILE]\n",
                 program);
    return 2;
}

void print_error(const char *what, const iotjobs::Error &error) {
    std::fprintf(stderr, "%s: %s\n", what, error.to_string().c_str());
}

} // namespace

int main(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        const bool has_value = i + 1 < argc;
        if (std::strcmp(argv[i], "--plain") == 0) {
            o.plain = true;
        } else if (has_value && std::strcmp(argv[i], "--endpoint") == 0) {
            o.endpoint = argv[++i];
        } else if (has_value && std::strcmp(argv[i], "--thing") == 0) {
            o.thing = argv[++i];
        } else if (has_value && std::strcmp(argv[i], "--port") == 0) {
            o.port = std::strtol(argv[++i], nullptr, 10);
        } else if (has_value && std::strcmp(argv[i], "--ca") == 0) {
            o.ca = argv[++i];
        } else if (has_value && std::strcmp(argv[i], "--cert") == 0) {
            o.cert = argv[++i];
        } else if (has_value && std::strcmp(argv[i], "--key") == 0) {
            o.key = argv[++i];
        } else {
            return usage(argv[0]);
        }
    }
    if (o.endpoint == nullptr || o.thing == nullptr || o.port < 0 || o.port > 65535) {
        return usage(argv[0]);
    }
    const long port = o.port != 0 ? o.port : (o.plain ? 1883 : 8883);

    // Setters chain; the first failure is reported when the client is created.
    iotjobs::Config config;
    config.endpoint(o.endpoint, static_cast<std::uint16_t>(port))
        .client_id(o.thing)
        .thing_name(o.thing)
        .jobs_qos(1);
    if (o.plain) {
        config.transport(JOBS_TRANSPORT_TCP);
    } else {
        config.ca_file(o.ca).cert_file(o.cert).key_file(o.key);
    }
    iotjobs::Result<iotjobs::Client> client = iotjobs::Client::create(config);
    if (!client) {
        print_error("client", client.error());
        return 1;
    }
    if (iotjobs::Result<void> connected = client->connect(); !connected) {
        print_error("connect", connected.error());
        return 1;
    }

    iotjobs::Result<iotjobs::Reply> pending = client->get_pending({}, 10s);
    if (!pending) {
        print_error("get-pending", pending.error());
        return 1;
    }
    // The job ids are borrowed from the reply: valid as long as `pending`.
    std::string first;
    for (const iotjobs::JobSummary &job : pending->pending_jobs(JOBS_STATUS_IN_PROGRESS)) {
        std::printf("in-progress %.*s\n", static_cast<int>(job.job_id.size()), job.job_id.data());
        if (first.empty()) first = job.job_id;
    }
    for (const iotjobs::JobSummary &job : pending->pending_jobs(JOBS_STATUS_QUEUED)) {
        std::printf("queued %.*s (version %llu)\n", static_cast<int>(job.job_id.size()),
                    job.job_id.data(), static_cast<unsigned long long>(job.version_number));
        if (first.empty()) first = job.job_id;
    }
    if (first.empty()) {
        std::printf("no pending job\n");
        return 0;
    }

    iotjobs::Result<iotjobs::Reply> described = client->describe(iotjobs::DescribeArgs(first), 10s);
    if (!described) {
        print_error("describe", described.error());
        return 1;
    }
    std::string_view document = described->job_document_json();
    std::printf("document %s: %.*s\n", first.c_str(), static_cast<int>(document.size()),
                document.data());
    return 0;
}
