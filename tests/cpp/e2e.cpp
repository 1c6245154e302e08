// The C++ wrapper end to end: a Connection with connection-level callbacks, a Client over it,
// every request/response operation in its blocking, callback and future forms, a rejected
// update, a timeout, the job document read by path, the notify-next event callback, a
// connection event (a refused connection attempt), and a Client with its own connection.
//
// Usage: e2e HOST PORT THING JOB [CLOSED_PORT]
//   JOB is QUEUED for THING with the document below, and the server drops the first reply;
//   CLOSED_PORT (default 1) is a loopback port where nothing listens.
//   Document: {"operation":"install","steps":[{"name":"download","retries":3}],
//              "ratio":0.5,"reboot":true,"options":{"b":"2","a":"1"}}
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;
using iotjobs::Client;
using iotjobs::Config;
using iotjobs::Connection;
using iotjobs::MessageView;
using iotjobs::Reply;
using iotjobs::Result;

namespace {

struct Counts {
    std::atomic<int> online{0};
    std::atomic<int> offline{0};
    std::atomic<int> messages{0};
    std::atomic<int> log_lines{0};
    std::atomic<int> next_without_execution{0};
};

Config tcp_config(const char *host, std::uint16_t port, const char *client_id) {
    Config config;
    config.endpoint(host, port)
        .transport(JOBS_TRANSPORT_TCP)
        .client_id(client_id)
        .timeouts(10s, 10s);
    return config;
}

// The document of the job the runner created.
void read_document(const MessageView &execution) {
    std::optional<iotjobs::DocumentView> doc = execution.document();
    CHECK(doc.has_value());
    if (!doc) return;
    CHECK(doc->get_string("operation").value_or("") == "install");
    CHECK(doc->get_string("steps[0].name").value_or("") == "download");
    CHECK(doc->get_int("steps[0].retries").value_or(0) == 3);
    CHECK(doc->get_number("ratio").value_or(0) == 0.5);
    CHECK(doc->get_bool("reboot").value_or(false));
    CHECK(doc->array_length("steps").value_or(0) == 1);
    Result<std::vector<std::string_view>> names = doc->member_names("options");
    CHECK(names.ok() && names->size() == 2 && names->front() == "a");
    CHECK(doc->get_int("steps[1].retries").error().missing());
    CHECK(doc->get_int("operation").error().wrong_type());
    CHECK_ERROR(doc->get_int("steps["), JOBS_RESULT_INVALID_PATH);
    CHECK(execution.job_document_json().find("\"install\"") != std::string_view::npos);
    printf("ok document\n");
}

// A connection to a port where nothing listens reports each failed attempt as an event.
void connection_event(const char *host, std::uint16_t closed_port) {
    std::mutex lock;
    std::vector<iotjobs::ConnectionEvent> events; // kinds and results only: the views expire
    std::vector<std::string> messages;
    Config config = tcp_config(host, closed_port, "cpp-e2e-refused");
    config.backoff(100ms, 100ms, 1s, false).on_event([&](const iotjobs::ConnectionEvent &e) {
        std::lock_guard<std::mutex> hold(lock);
        events.push_back(iotjobs::ConnectionEvent{e.kind, e.result, {}, {}});
        messages.emplace_back(e.message);
    });
    Result<Connection> made = Connection::create(config);
    CHECK_OK(made);
    if (!made) return;
    CHECK_ERROR(made->connect(), JOBS_RESULT_NETWORK); // the blocking form: the code, at once
    CHECK_OK(made->connect_async());
    CHECK(test_wait_until([&] {
        std::lock_guard<std::mutex> hold(lock);
        return !events.empty();
    }, 10));
    CHECK_OK(made->disconnect());
    std::lock_guard<std::mutex> hold(lock);
    CHECK(!events.empty() && events[0].kind == JOBS_EVENT_KIND_CONNECT_FAILED &&
          events[0].result == JOBS_RESULT_NETWORK && !messages[0].empty());
    printf("ok connection event\n");
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB [CLOSED_PORT]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
    const std::string thing = argv[3];
    const std::string job = argv[4];
    const auto closed_port = static_cast<std::uint16_t>(argc == 6 ? std::atoi(argv[5]) : 1);
    Counts counts;

    // A connection with every connection-level callback, and a client over it.
    Config config = tcp_config(host, port, "cpp-e2e");
    config.on_online([&] { counts.online++; })
        .on_offline([&] { counts.offline++; })
        .on_message([&](std::string_view topic, std::string_view) {
            if (topic.find("/jobs/") != std::string_view::npos) counts.messages++;
        })
        .on_log(JOBS_LOG_LEVEL_INFO, [&](iotjobs::LogLevel, std::string_view line) {
            if (!line.empty()) counts.log_lines++;
        });
    CHECK(config.ok());
    Result<Connection> made = Connection::create(config);
    CHECK_OK(made);
    if (!made) return test_finish();
    Connection connection = std::move(*made);
    CHECK_OK(connection.connect());
    CHECK(test_wait_until([&] { return counts.online.load() == 1; }, 10));
    CHECK(connection.client_id() == "cpp-e2e");
    Result<Client> shared = Client::create(connection, thing, nullptr, 1);
    CHECK_OK(shared);
    if (!shared) return test_finish();
    Client client = std::move(*shared);
    printf("ok connected\n");

    // The server drops the first reply: the request times out, without a reply.
    Result<Reply> lost = client.get_pending({}, 400ms);
    CHECK_ERROR(lost, JOBS_RESULT_TIMEOUT);
    CHECK(lost.error().reply() == nullptr);
    printf("ok timeout\n");

    // GetPending, blocking: the queued job in the typed list.
    Result<Reply> pending = client.get_pending();
    CHECK_OK(pending);
    if (pending) {
        CHECK(pending->accepted() && !pending->rejected());
        std::vector<iotjobs::JobSummary> queued = pending->pending_jobs(JOBS_STATUS_QUEUED);
        CHECK(queued.size() == 1 && queued[0].job_id == job);
        CHECK(!queued.empty() && queued[0].queued_at.has_value() && queued[0].version_number >= 1);
        CHECK(pending->pending_count(JOBS_STATUS_IN_PROGRESS) == 0);
        CHECK_ERROR(pending->pending_job(JOBS_STATUS_QUEUED, 1), JOBS_RESULT_NOT_FOUND);
    }
    printf("ok get-pending\n");

    // StartNext through a future: the execution, typed.
    iotjobs::StartNextArgs next;
    next.status_details = R"({"step":"download"})";
    Result<Reply> started = client.start_next_async(next).get();
    CHECK_OK(started);
    if (!started) return test_finish();
    Reply execution = std::move(*started);
    CHECK(execution.has_execution() && execution.execution_job_id() == job);
    CHECK(execution.status() == JOBS_STATUS_IN_PROGRESS);
    CHECK(execution.started_at().has_value() && execution.execution_number() == 1);
    const std::uint64_t version = execution.version_number();
    CHECK(version >= 2);
    printf("ok start-next future version=%llu\n", static_cast<unsigned long long>(version));
    read_document(execution);

    // A stale expected version: REJECTED, with AWS's reply in the error.
    iotjobs::UpdateArgs update(job, JOBS_STATUS_IN_PROGRESS);
    update.expected_version = version + 10;
    Result<Reply> stale = client.update(update);
    CHECK_ERROR(stale, JOBS_RESULT_REJECTED);
    CHECK(stale.error().rejected() && stale.error().reply() != nullptr);
    if (const Reply *why = stale.error().reply()) {
        CHECK(why->rejected());
        CHECK(why->rejection_code() == JOBS_REJECTION_CODE_VERSION_MISMATCH);
        CHECK(why->rejection_text() == "VersionMismatch");
        CHECK(why->version_number() == version);
    }
    CHECK(stale.error().message().find("VersionMismatch") != std::string::npos);
    // The asynchronous form says the same.
    Result<Reply> stale_async = client.update_async(update).get();
    CHECK_ERROR(stale_async, JOBS_RESULT_REJECTED);
    CHECK(stale_async.error().message() == stale.error().message());
    CHECK(stale_async.error().reply() != nullptr &&
          stale_async.error().reply()->rejection_code() == JOBS_REJECTION_CODE_VERSION_MISMATCH);
    printf("ok update rejected\n");

    // Progress, blocking; then describe it, blocking and with a callback.
    update.expected_version = version;
    update.status_details = R"({"progress":"50%"})";
    update.include_job_execution_state = true;
    Result<Reply> progress = client.update(update);
    CHECK_OK(progress);
    iotjobs::DescribeArgs describe(job);
    Result<Reply> described = client.describe(describe);
    CHECK_OK(described);
    if (described) {
        CHECK(described->status() == JOBS_STATUS_IN_PROGRESS);
        CHECK(described->version_number() == version + 1);
        // The update's pairs join start-next's.
        CHECK(described->status_details_json().find(R"("progress":"50%")") != std::string::npos);
        CHECK(described->status_details_json().find(R"("step":"download")") != std::string::npos);
    }
    std::mutex lock;
    std::vector<std::string> details;
    int described_calls = 0;
    CHECK_OK(client.describe_async(describe, 5s, [&](Result<Reply> r) {
        std::lock_guard<std::mutex> hold(lock);
        described_calls++;
        if (!r) return;
        for (const iotjobs::StatusDetail &pair : r->status_details()) {
            details.push_back(std::string(pair.key) + "=" + std::string(pair.value));
        }
    }));
    CHECK(test_wait_until([&] {
        std::lock_guard<std::mutex> hold(lock);
        return described_calls > 0;
    }, 10));
    {
        std::lock_guard<std::mutex> hold(lock);
        CHECK(described_calls == 1 && details.size() == 2);
        CHECK(std::find(details.begin(), details.end(), "progress=50%") != details.end());
    }
    printf("ok describe\n");

    // The library subscribes notify-next for the handler.
    CHECK_OK(client.set_event_callback(JOBS_TOPIC_TYPE_NOTIFY_NEXT, [&](const MessageView &m) {
        if (m.topic_type() == JOBS_TOPIC_TYPE_NOTIFY_NEXT && !m.has_execution()) {
            counts.next_without_execution++;
        }
    }));
    test_sleep_ms(200); // the SUBSCRIBE reaches the server before the job ends

    // Finish with a callback; then nothing is pending.
    update.status = JOBS_STATUS_SUCCEEDED;
    update.expected_version = version + 1;
    update.status_details = R"({"progress":"100%"})";
    std::atomic<int> finished{-1};
    CHECK_OK(client.update_async(update, [&](Result<Reply> r) {
        finished = static_cast<int>(r.error().code());
    }));
    CHECK(test_wait_until([&] { return finished.load() >= 0; }, 10));
    CHECK(finished.load() == static_cast<int>(JOBS_RESULT_OK));
    CHECK(test_wait_until([&] { return counts.next_without_execution.load() >= 1; }, 10));
    CHECK_OK(client.set_event_callback(JOBS_TOPIC_TYPE_NOTIFY_NEXT, nullptr));
    printf("ok update async\nok notify-next event\n");

    Result<Reply> none = client.get_pending();
    CHECK(none.ok() && none->pending_count(JOBS_STATUS_QUEUED) == 0);
    Result<Reply> nothing_next = client.start_next();
    CHECK(nothing_next.ok() && !nothing_next->has_execution());
    Result<Reply> unknown = client.describe_async(iotjobs::DescribeArgs("no-such-job")).get();
    CHECK_ERROR(unknown, JOBS_RESULT_REJECTED);
    CHECK(unknown.error().reply() != nullptr &&
          unknown.error().reply()->rejection_code() == JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    printf("ok nothing pending\n");

    // A client with its own connection, from a Config.
    Config own = tcp_config(host, port, "cpp-e2e-own");
    own.thing_name(thing).jobs_qos(1);
    Result<Client> alone = Client::create(own);
    CHECK_OK(alone);
    if (alone) {
        CHECK_OK(alone->connect());
        CHECK(alone->connection().client_id() == "cpp-e2e-own");
        CHECK(alone->connection().state() != JOBS_CONNECTION_STATE_DISCONNECTED);
        Result<Reply> again = alone->get_pending({}, 5s);
        CHECK(again.ok() && again->pending_count(JOBS_STATUS_QUEUED) == 0);
    }
    printf("ok own connection\n");

    connection_event(host, closed_port);

    CHECK(counts.messages.load() >= 5);
    CHECK(counts.log_lines.load() >= 1);
    CHECK(counts.offline.load() == 0);
    // The shared connection's client goes first.
    { Client done = std::move(client); }
    CHECK_OK(connection.disconnect());
    CHECK(test_wait_until([&] { return counts.offline.load() == 1; }, 10));
    printf("ok done\n");
    return test_finish();
}
