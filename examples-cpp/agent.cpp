// agent.cpp: a device agent on the job agent with lambda handlers (iotjobs.hpp).
//
//   agent --endpoint HOST --thing NAME --jobs N [--port N] [--journal FILE]
//         [--plain | --ca F --cert F --key F]
//
// Handles two operations and stops after N jobs ended (finished or cancelled):
//   {"operation":"install","steps":S}  S progress updates ("step": "i/S"), then SUCCEEDED;
//   {"operation":"explode"}            the handler fails: with exceptions it throws (the agent
//                                      ends the job FAILED with the exception's text), without
//                                      them it fails the job itself.
// Any other operation is REJECTED by the agent. Output: "start JOB", "event KIND JOB STATUS",
// "done N". Exit status: 0 after N jobs, 1 on a failure or after 60 s, 2 on bad arguments.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <stdexcept>
#include <thread>
#include <utility>

#include "iotjobs.hpp"

using namespace std::chrono_literals;

namespace {

struct Options {
    const char *endpoint = nullptr, *thing = nullptr, *journal = nullptr;
    const char *ca = nullptr, *cert = nullptr, *key = nullptr;
    long port = 0, jobs = 0;
    bool plain = false;
};

bool parse(int argc, char **argv, Options &o) {
    for (int i = 1; i < argc; i++) {
        const bool value = i + 1 < argc;
        const char *a = argv[i];
        if (std::strcmp(a, "--plain") == 0) o.plain = true;
        else if (value && std::strcmp(a, "--endpoint") == 0) o.endpoint = argv[++i];
        else if (value && std::strcmp(a, "--thing") == 0) o.thing = argv[++i];
        else if (value && std::strcmp(a, "--journal") == 0) o.journal = argv[++i];
        else if (value && std::strcmp(a, "--port") == 0) o.port = std::strtol(argv[++i], nullptr, 10);
        else if (value && std::strcmp(a, "--jobs") == 0) o.jobs = std::strtol(argv[++i], nullptr, 10);
        else if (value && std::strcmp(a, "--ca") == 0) o.ca = argv[++i];
        else if (value && std::strcmp(a, "--cert") == 0) o.cert = argv[++i];
        else if (value && std::strcmp(a, "--key") == 0) o.key = argv[++i];
        else return false;
    }
    return o.endpoint && o.thing && o.jobs > 0 && (o.plain || (o.ca && o.cert && o.key));
}

int fail(const char *what, const iotjobs::Error &e) {
    std::fprintf(stderr, "%s: %s\n", what, e.to_string().c_str());
    return 1;
}

} // namespace

int main(int argc, char **argv) {
    Options o;
    if (!parse(argc, argv, o)) {
        std::fprintf(stderr, "usage: %s --endpoint HOST --thing NAME --jobs N [--port N] "
                             "[--journal FILE] [--plain | --ca F --cert F --key F]\n", argv[0]);
        return 2;
    }
    long port = o.port != 0 ? o.port : (o.plain ? 1883 : 8883);
    iotjobs::Config config;
    config.endpoint(o.endpoint, static_cast<std::uint16_t>(port))
        .client_id(o.thing)
        .thing_name(o.thing)
        .jobs_qos(1);
    if (o.plain) config.transport(JOBS_TRANSPORT_TCP);
    else config.ca_file(o.ca).cert_file(o.cert).key_file(o.key);
    auto client = iotjobs::Client::create(config);
    if (!client) return fail("client", client.error());
    if (auto c = client->connect(); !c) return fail("connect", c.error());

    std::atomic<long> ended{0};
    iotjobs::AgentOptions options;
    if (o.journal) options.journal_path = o.journal;
    options.on_event = [&ended](const iotjobs::AgentEvent &e) {
        std::printf("event %s %.*s %s\n", std::string(iotjobs::to_string(e.kind)).c_str(),
                    static_cast<int>(e.job_id.size()), e.job_id.data(),
                    std::string(iotjobs::to_string(e.status)).c_str());
        std::fflush(stdout);
        if (e.kind == JOBS_AGENT_EVENT_KIND_JOB_FINISHED ||
            e.kind == JOBS_AGENT_EVENT_KIND_JOB_CANCELLED) {
            ended++;
        }
    };
    auto agent = iotjobs::Agent::create(*client, std::move(options));
    if (!agent) return fail("agent", agent.error());

    iotjobs::JobHandler install;
    install.run = [](iotjobs::Job &job) {
        std::printf("start %.*s\n", static_cast<int>(job.id().size()), job.id().data());
        std::fflush(stdout);
        std::int64_t steps = 1;
        if (auto doc = job.document()) steps = doc->get_int("steps").value_or(1);
        for (std::int64_t i = 1; i <= steps && !job.cancelled(); i++) {
            std::string details = "{\"step\":\"" + std::to_string(i) + "/" +
                                  std::to_string(steps) + "\"}";
            (void)job.progress(details);
        }
        if (!job.cancelled()) (void)job.succeed(R"({"step":"done"})");
    };
    iotjobs::JobHandler explode;
    explode.run = [](iotjobs::Job &job) {
#if IOTJOBS_HPP_EXCEPTIONS
        (void)job;
        throw std::runtime_error("the flash is write-protected");
#else
        (void)job.fail(R"({"reason":"the flash is write-protected"})");
#endif
    };
    for (auto [operation, handler] : {std::pair{"install", install}, {"explode", explode}}) {
        if (auto r = agent->handle(operation, handler); !r) return fail("handler", r.error());
    }
    if (auto r = agent->start(); !r) return fail("start", r.error());
    for (int waited = 0; ended < o.jobs; waited += 10) {
        if (waited >= 60000) {
            std::fprintf(stderr, "only %ld of %ld jobs ended within 60 s\n", ended.load(), o.jobs);
            return 1;
        }
        std::this_thread::sleep_for(10ms);
    }
    if (auto r = agent->stop(5s); !r) return fail("stop", r.error());
    std::printf("done %ld\n", ended.load());
    return 0;
}
