// The C++ wrapper without a server: results and errors (with and without exceptions), handles
// moved, bad arguments giving the C result code, config callbacks copied when a handle is
// built, request outcomes of a client that is not connected (fail fast, deadlines, futures,
// callbacks), and the lifetime rules: a callback destroying its own client, a client destroyed
// with requests in flight. Connection attempts go to 127.0.0.1 port 1, where nothing listens.
//
// Usage: api   (built as C++17 and C++20, with and without -fno-exceptions)
#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "check.hpp"

using namespace std::chrono_literals;
using iotjobs::Client;
using iotjobs::Config;
using iotjobs::Connection;
using iotjobs::Document;
using iotjobs::Error;
using iotjobs::Reply;
using iotjobs::Result;

namespace {

// A config for 127.0.0.1:1 over plain TCP: every connection attempt is refused.
Config unreachable_config(const char *thing) {
    Config config;
    config.endpoint("127.0.0.1", 1).transport(JOBS_TRANSPORT_TCP).timeouts(2s, 2s);
    if (thing != nullptr) config.thing_name(thing);
    return config;
}

// value() of a failed Result: throws iotjobs::Exception with exceptions, else prints and aborts
// (checked in a child process, before any library thread exists).
void failed_value() {
    Result<int> failed = Error(JOBS_RESULT_TIMEOUT, "timed out: test");
#if IOTJOBS_HPP_EXCEPTIONS
    bool caught = false;
    try {
        (void)failed.value();
    } catch (const iotjobs::Exception &e) {
        caught = e.code() == JOBS_RESULT_TIMEOUT && e.error().message() == "timed out: test" &&
                 std::string(e.what()).find("timed out: test") != std::string::npos;
    }
    CHECK(caught);
    caught = false;
    try {
        Result<void> nothing = Error(JOBS_RESULT_CLOSED, "closed");
        nothing.value_or_throw();
    } catch (const std::runtime_error &e) { // Exception is a std::runtime_error
        caught = std::string(e.what()).find("closed") != std::string::npos;
    }
    CHECK(caught);
#else
    int err[2];
    CHECK(pipe(err) == 0);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        dup2(err[1], 2);
        (void)failed.value(); // aborts
        _exit(0);
    }
    close(err[1]);
    std::string printed;
    char buf[256];
    ssize_t n;
    while ((n = read(err[0], buf, sizeof buf)) > 0) printed.append(buf, static_cast<size_t>(n));
    close(err[0]);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(printed.find("iotjobs: value() of a failed Result: timed out: test") !=
          std::string::npos);
#endif
}

void results_and_names() {
    Result<int> seven = 7;
    CHECK(seven.ok() && static_cast<bool>(seven) && *seven == 7 && seven.value() == 7);
    CHECK(seven.error().code() == JOBS_RESULT_OK && seven.error().message().empty());
    Result<int> failed = Error(JOBS_RESULT_INVALID_ARGUMENT, "bad");
    CHECK(!failed.ok() && failed.value_or(3) == 3 && failed.error().message() == "bad");
    CHECK(failed.error().to_string() == "bad (jobs_result 2)");
    // An Error without a code cannot make a failed Result look successful.
    Result<void> odd = Error();
    CHECK(!odd.ok() && odd.error().code() == JOBS_RESULT_INTERNAL);
    Result<void> fine;
    CHECK(fine.ok());
    fine.value();
    CHECK(Error::from_code(JOBS_RESULT_TIMEOUT).message() == "timed out");

    CHECK(iotjobs::to_string(JOBS_STATUS_SUCCEEDED) == "SUCCEEDED");
    CHECK(iotjobs::to_string(JOBS_REJECTION_CODE_VERSION_MISMATCH) == "VersionMismatch");
    CHECK(iotjobs::to_string(JOBS_TOPIC_TYPE_START_NEXT) == "start_next");
    CHECK(iotjobs::to_string(JOBS_CONNECTION_STATE_ONLINE) == "online");
    CHECK(iotjobs::to_string(JOBS_RESULT_OK) == jobs_result_str(JOBS_RESULT_OK));
    CHECK(iotjobs::to_string(static_cast<iotjobs::Status>(77)) == "unknown");
    CHECK(iotjobs::version().substr(0, 8) == "iotjobs/");

    // Deadlines round up to whole milliseconds; out of range stays out of range.
    CHECK(iotjobs::Deadline().is_default());
    CHECK(iotjobs::Deadline(2s).milliseconds() == 2000);
    CHECK(iotjobs::Deadline(1us).milliseconds() == 1);
    CHECK(iotjobs::Deadline(1500us).milliseconds() == 2);
    CHECK(iotjobs::Deadline(std::chrono::duration<double>(0.25)).milliseconds() == 250);
    CHECK(iotjobs::Deadline(-1s).milliseconds() == 0);
    CHECK(iotjobs::Deadline(std::chrono::hours(2000)).milliseconds() == UINT32_MAX);
    printf("ok results and names\n");
}

void documents() {
    Result<Document> parsed = Document::parse(
        R"({"operation":"install","steps":[{"name":"a","retries":3}],"ratio":0.5,)"
        R"("reboot":true,"options":{"b":1,"a":2},"a.b":{"c":"dotted"}})");
    CHECK_OK(parsed);
    if (!parsed) return;
    Document doc = std::move(*parsed);
    Result<std::string_view> operation = doc.get_string("operation");
    CHECK_OK(operation);
    CHECK(operation.value_or("") == "install");
    CHECK(doc.get_int("steps[0].retries").value_or(0) == 3);
    CHECK(doc.get_number("ratio").value_or(0) == 0.5);
    CHECK(doc.get_number("steps[0].retries").value_or(0) == 3.0);
    CHECK(doc.get_bool("reboot").value_or(false));
    CHECK(doc.array_length("steps").value_or(0) == 1);
    CHECK(doc.member_count("options").value_or(0) == 2);
    Result<std::vector<std::string_view>> names = doc.member_names("options");
    CHECK(names.ok() && names->size() == 2 && (*names)[0] == "a" && (*names)[1] == "b");
    CHECK(doc.get_string(R"(["a.b"].c)").value_or("") == "dotted");
    // Missing and wrong type are told apart.
    Result<std::int64_t> missing = doc.get_int("steps[1].retries");
    CHECK_ERROR(missing, JOBS_RESULT_NOT_FOUND);
    CHECK(missing.error().missing() && !missing.error().wrong_type());
    Result<std::int64_t> wrong = doc.get_int("operation");
    CHECK_ERROR(wrong, JOBS_RESULT_WRONG_TYPE);
    CHECK(wrong.error().wrong_type() && !wrong.error().missing());
    CHECK_ERROR(doc.get_int("ratio"), JOBS_RESULT_WRONG_TYPE); // 0.5 is not an integer
    CHECK_ERROR(doc.get_bool("steps"), JOBS_RESULT_WRONG_TYPE);
    CHECK_ERROR(doc.member_name("options", 2), JOBS_RESULT_NOT_FOUND);
    CHECK_ERROR(doc.get_string("steps["), JOBS_RESULT_INVALID_PATH);
    CHECK_ERROR(doc.get_string(nullptr), JOBS_RESULT_NULL_ARGUMENT);

    // Moved: the new owner reads it, the old one holds nothing.
    Document moved = std::move(doc);
    CHECK(moved.get_string("operation").value_or("") == "install");
    CHECK_ERROR(doc.get_string("operation"), JOBS_RESULT_NULL_ARGUMENT); // moved from
    doc = std::move(moved);
    CHECK(doc.get_bool("reboot").value_or(false));

    CHECK_ERROR(Document::parse("{not json"), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_ERROR(Document::parse("\"\xff\""), JOBS_RESULT_INVALID_UTF8);
    CHECK_ERROR(Reply::copy_of(nullptr), JOBS_RESULT_NULL_ARGUMENT);
    printf("ok documents\n");
}

void configs_and_connections() {
    // The first failing setter is kept; later setters still apply; building reports it.
    Config bad;
    bad.endpoint("127.0.0.1", 0).transport(JOBS_TRANSPORT_TCP).thing_name("bad/thing");
    CHECK(!bad.ok() && bad.error().code() == JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(bad.error().message().find("port") != std::string::npos);
    CHECK_ERROR(Connection::create(bad), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_ERROR(Client::create(bad), JOBS_RESULT_INVALID_ARGUMENT);
    Config named;
    named.thing_name("bad/thing");
    CHECK(named.error().code() == JOBS_RESULT_INVALID_THING_NAME);
    Config nulls;
    nulls.endpoint(nullptr, 1883);
    CHECK(nulls.error().code() == JOBS_RESULT_NULL_ARGUMENT);
    Config incomplete;
    CHECK_ERROR(Connection::create(incomplete), JOBS_RESULT_INCOMPLETE_CONFIG);
    Config timeouts;
    timeouts.timeouts(0ms, 1s);
    CHECK(timeouts.error().code() == JOBS_RESULT_INVALID_ARGUMENT);
    Config levels;
    levels.on_log(static_cast<iotjobs::LogLevel>(9), [](iotjobs::LogLevel, std::string_view) {});
    CHECK(levels.error().code() == JOBS_RESULT_INVALID_ARGUMENT);

    // A custom authorizer: checked when set; over TLS it refuses a separate username.
    Config authz;
    authz.custom_authorizer("bad name");
    CHECK(authz.error().code() == JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(authz.error().message().find("authorizer name") != std::string::npos);
    Config authz_ok;
    authz_ok.endpoint("127.0.0.1", 1883)
        .transport(JOBS_TRANSPORT_TCP)
        .custom_authorizer("my-authorizer", "tok", "t", "AAAA", "user",
                           std::string_view("p\0w", 3), JOBS_CUSTOM_AUTH_FORM_QUERY)
        .username_password("u", "p");
    CHECK(authz_ok.ok());
    CHECK_ERROR(Connection::create(authz_ok), JOBS_RESULT_INVALID_ARGUMENT);
    authz_ok.clear_custom_authorizer();
    CHECK(authz_ok.ok());
    CHECK_OK(Connection::create(authz_ok));
    CHECK(iotjobs::to_string(JOBS_CUSTOM_AUTH_FORM_HEADERS) == "headers");

    // A moved Config: the new one builds, the old one records NULL_ARGUMENT.
    Config config = unreachable_config(nullptr);
    Config taken = std::move(config);
    config.client_id("x"); // moved from
    CHECK(config.error().code() == JOBS_RESULT_NULL_ARGUMENT);
    config.on_online([] {});
    CHECK(config.error().code() == JOBS_RESULT_NULL_ARGUMENT);
    CHECK(taken.ok());
    Result<Connection> made = Connection::create(taken);
    CHECK_OK(made);
    if (!made) return;
    Connection connection = std::move(*made);
    CHECK(connection.state() == JOBS_CONNECTION_STATE_DISCONNECTED);
    CHECK(connection.client_id().rfind("iotjobs-", 0) == 0); // generated
    CHECK(connection.counter(JOBS_COUNTER_QUEUED).value_or(99) == 0);
    CHECK_ERROR(connection.counter(static_cast<iotjobs::Counter>(77)),
                JOBS_RESULT_INVALID_ARGUMENT);
    // Offline, a publish is queued; a bad topic is refused with its code.
    Result<iotjobs::Delivery> queued = connection.publish("cpp/api", "{}", 1);
    CHECK_OK(queued);
    CHECK(queued.value_or(JOBS_DELIVERY_SENT) == JOBS_DELIVERY_QUEUED);
    CHECK_ERROR(connection.publish("cpp/#", "x"), JOBS_RESULT_INVALID_TOPIC);
    CHECK_ERROR(connection.publish("cpp/api", "x", 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(connection.counter(JOBS_COUNTER_QUEUED).value_or(0) == 1);

    // Moved: the handle goes with it.
    Connection other = std::move(connection);
    CHECK(other.state() == JOBS_CONNECTION_STATE_DISCONNECTED);
    CHECK(connection.state() == JOBS_CONNECTION_STATE_CLOSED); // moved from
    CHECK_ERROR(connection.connect(), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(connection.client_id().empty());

    // Clients over it: bad arguments give the C codes.
    CHECK_ERROR(Client::create(other, "bad/thing"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_ERROR(Client::create(other, nullptr), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_ERROR(Client::create(other, "thing-1", std::string(80, 't')),
                JOBS_RESULT_INVALID_CLIENT_TOKEN);
    CHECK_ERROR(Client::create(other, "thing-1", nullptr, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_ERROR(Client::create(iotjobs::ConnectionRef(), "thing-1"), JOBS_RESULT_NULL_ARGUMENT);
    Result<Client> shared = Client::create(other, "thing-1", "token-1", 1);
    CHECK_OK(shared);
    if (shared) {
        Client client = std::move(*shared);
        // A borrowed handle of the same connection.
        CHECK(client.connection().client_id() == other.client_id());
        Client moved = std::move(client);
        CHECK_ERROR(client.get_pending(), JOBS_RESULT_NULL_ARGUMENT); // moved from
        CHECK_ERROR(client.set_fallback_callback([](const iotjobs::MessageView &) {}),
                    JOBS_RESULT_NULL_ARGUMENT);
        CHECK(client.connection().native() == nullptr);
        CHECK(moved.connection().client_id() == other.client_id());
    }
    printf("ok configs and connections\n");
}

void bad_request_arguments(Client &client) {
    iotjobs::UpdateArgs update("job-1", JOBS_STATUS_NOT_SET);
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_STATUS);
    update.status = JOBS_STATUS_QUEUED; // only AWS sets it
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_STATUS);
    update.status = static_cast<iotjobs::Status>(50);
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_ARGUMENT);
    update.status = JOBS_STATUS_SUCCEEDED;
    update.job_id = "bad/id";
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_JOB_ID);
    update.job_id = "";
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_JOB_ID);
    update.job_id = "job-1";
    update.status_details = R"({"a":1})";
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_STATUS_DETAILS);
    update.status_details = std::nullopt;
    update.step_timeout = std::chrono::minutes(10081);
    CHECK_ERROR(client.update(update), JOBS_RESULT_INVALID_ARGUMENT);

    iotjobs::GetPendingArgs pending;
    CHECK_ERROR(client.get_pending(pending, 0ms), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_ERROR(client.get_pending(pending, std::chrono::hours(25)), JOBS_RESULT_INVALID_ARGUMENT);
    pending.client_token = std::string(80, 't');
    CHECK_ERROR(client.get_pending(pending), JOBS_RESULT_INVALID_CLIENT_TOKEN);
    pending.client_token = "\xff\xfe";
    CHECK_ERROR(client.get_pending(pending), JOBS_RESULT_INVALID_UTF8);
    pending.client_token = std::nullopt;
    pending.offline = static_cast<iotjobs::Offline>(7);
    CHECK_ERROR(client.get_pending(pending), JOBS_RESULT_INVALID_ARGUMENT);

    iotjobs::DescribeArgs describe;
    CHECK(describe.include_job_document); // the library's default
    describe.job_id = "+";
    CHECK_ERROR(client.describe(describe), JOBS_RESULT_INVALID_JOB_ID);
    iotjobs::StartNextArgs next;
    next.step_timeout = std::chrono::minutes(-5);
    CHECK_ERROR(client.start_next(next), JOBS_RESULT_INVALID_ARGUMENT);

    // The asynchronous forms refuse the same arguments at once: the callback never runs, the
    // future is ready with the error.
    std::atomic<int> calls{0};
    update.status = JOBS_STATUS_NOT_SET;
    CHECK_ERROR(client.update_async(update, [&](Result<Reply>) { calls++; }),
                JOBS_RESULT_INVALID_STATUS);
    std::future<Result<Reply>> refused = client.describe_async(describe);
    CHECK(refused.wait_for(0s) == std::future_status::ready);
    CHECK_ERROR(refused.get(), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_ERROR(client.start_next_async(next, 1s, [&](Result<Reply>) { calls++; }),
                JOBS_RESULT_INVALID_ARGUMENT);
    test_sleep_ms(50);
    CHECK(calls == 0);

    auto ignore = [](const iotjobs::MessageView &) {};
    CHECK_ERROR(client.set_event_callback(JOBS_TOPIC_TYPE_UPDATE, ignore),
                JOBS_RESULT_INVALID_ARGUMENT);
    printf("ok bad arguments\n");
}

void offline_outcomes() {
    Result<Client> made = Client::create(unreachable_config("cpp-api-thing"));
    CHECK_OK(made);
    if (!made) return;
    Client client = std::move(*made);
    bad_request_arguments(client);

    iotjobs::GetPendingArgs fail_fast;
    fail_fast.offline = JOBS_OFFLINE_FAIL_FAST;
    CHECK_ERROR(client.get_pending(fail_fast), JOBS_RESULT_NOT_CONNECTED);
    CHECK_ERROR(client.get_pending({}, 100ms), JOBS_RESULT_TIMEOUT);
    CHECK_ERROR(client.get_pending_async(fail_fast).get(), JOBS_RESULT_NOT_CONNECTED);
    Result<Reply> late = client.start_next_async({}, 100ms).get();
    CHECK_ERROR(late, JOBS_RESULT_TIMEOUT);
    CHECK(late.error().reply() == nullptr && late.error().message() == "timed out");

    // The callback form: exactly one outcome, on the callback thread.
    std::mutex lock;
    std::vector<iotjobs::ResultCode> outcomes;
    CHECK_OK(client.describe_async(iotjobs::DescribeArgs("job-1"), 100ms, [&](Result<Reply> r) {
        std::lock_guard<std::mutex> hold(lock);
        outcomes.push_back(r.error().code());
    }));
    CHECK(test_wait_until([&] {
        std::lock_guard<std::mutex> hold(lock);
        return !outcomes.empty();
    }, 10));
    test_sleep_ms(100);
    {
        std::lock_guard<std::mutex> hold(lock);
        CHECK(outcomes.size() == 1 && outcomes[0] == JOBS_RESULT_TIMEOUT);
    }
    printf("ok offline outcomes\n");
}

// Destroying a client with requests in flight: the futures become ready with CLOSED, the
// callbacks are never called and what they captured is released.
void destroyed_with_requests_in_flight() {
    Result<Client> made = Client::create(unreachable_config("cpp-api-thing"));
    CHECK_OK(made);
    if (!made) return;
    auto captured = std::make_shared<int>(1);
    std::weak_ptr<int> watch = captured;
    std::atomic<int> calls{0};
    std::future<Result<Reply>> future;
    {
        Client client = std::move(*made);
        future = client.get_pending_async({}, 20s);
        CHECK_OK(client.update_async(iotjobs::UpdateArgs("job-1", JOBS_STATUS_SUCCEEDED), 20s,
                                     [&calls, captured](Result<Reply>) { calls++; }));
        captured.reset();
        CHECK(!watch.expired()); // held by the request in flight
        CHECK(future.wait_for(0s) == std::future_status::timeout);
    }
    CHECK(future.wait_for(0s) == std::future_status::ready);
    Result<Reply> outcome = future.get();
    CHECK_ERROR(outcome, JOBS_RESULT_CLOSED);
    CHECK(watch.expired());
    test_sleep_ms(50);
    CHECK(calls == 0);
    printf("ok destroyed with requests in flight\n");
}

// A callback may destroy its own client (the running callback finishes normally).
void destroyed_inside_its_own_callback() {
    Result<Client> made = Client::create(unreachable_config("cpp-api-thing"));
    CHECK_OK(made);
    if (!made) return;
    // The callback holds the last reference to its client.
    auto holder = std::make_shared<Client>(std::move(*made));
    std::weak_ptr<Client> watch = holder;
    std::atomic<bool> destroyed{false};
    std::atomic<int> code{0};
    Client *client = holder.get();
    std::future<Result<Reply>> other = client->describe_async(iotjobs::DescribeArgs("job-2"), 20s);
    auto destroy_own_client = [&destroyed, &code, &watch, holder](Result<Reply> r) mutable {
        code = static_cast<int>(r.error().code());
        holder.reset(); // jobs_client_free from inside the client's own callback
        destroyed = watch.expired();
    };
    CHECK_OK(client->get_pending_async({}, 50ms, std::move(destroy_own_client)));
    holder.reset();
    CHECK(test_wait_until([&] { return destroyed.load(); }, 10));
    CHECK(code.load() == static_cast<int>(JOBS_RESULT_TIMEOUT));
    // The other request never completes in C: its future was given CLOSED when the client went.
    CHECK(other.wait_for(5s) == std::future_status::ready);
    CHECK_ERROR(other.get(), JOBS_RESULT_CLOSED);
    printf("ok destroyed inside its own callback\n");
}

// A handle keeps the callbacks its Config had when it was built; the Config may change them
// afterwards, and go, without touching the handle's.
void config_callbacks_are_copied_when_a_handle_is_built() {
    struct Seen {
        std::mutex lock;
        std::vector<std::string> events;
        int log_lines = 0;
    };
    auto seen = std::make_shared<Seen>();
    std::optional<Config> config(unreachable_config(nullptr));
    config->backoff(50ms, 50ms, 1s, false).on_event([seen](const iotjobs::ConnectionEvent &e) {
        std::lock_guard<std::mutex> hold(seen->lock);
        seen->events.push_back(std::string("first:") + std::string(iotjobs::to_string(e.kind)) +
                               ":" + std::string(iotjobs::to_string(e.result)));
    });
    config->on_log(JOBS_LOG_LEVEL_WARN, [seen](iotjobs::LogLevel level, std::string_view line) {
        std::lock_guard<std::mutex> hold(seen->lock);
        if (level <= JOBS_LOG_LEVEL_WARN && !line.empty()) seen->log_lines++;
    });
    Result<Connection> first = Connection::create(*config);
    config->on_event([seen](const iotjobs::ConnectionEvent &e) {
        std::lock_guard<std::mutex> hold(seen->lock);
        seen->events.push_back(std::string("second:") + std::string(iotjobs::to_string(e.kind)));
    });
    Result<Connection> second = Connection::create(*config);
    config.reset(); // the handles keep their callbacks
    CHECK_OK(first);
    CHECK_OK(second);
    if (!first || !second) return;
    CHECK_OK(first->connect_async());
    auto count = [&](const std::string &prefix) {
        std::lock_guard<std::mutex> hold(seen->lock);
        int n = 0;
        for (const std::string &e : seen->events) n += e.rfind(prefix, 0) == 0 ? 1 : 0;
        return n;
    };
    CHECK(test_wait_until([&] { return count("first:connect_failed:") >= 1; }, 10));
    CHECK(count("second:") == 0);
    CHECK_OK(second->connect_async());
    CHECK(test_wait_until([&] { return count("second:connect_failed") >= 1; }, 10));
    *first = Connection(std::move(*second)); // frees the first, keeps the second's callbacks
    int before = count("second:");
    CHECK(test_wait_until([&] { return count("second:") > before; }, 10));
    CHECK_OK(first->disconnect());
    {
        std::lock_guard<std::mutex> hold(seen->lock);
        CHECK(seen->log_lines >= 1);
        CHECK(seen->events.size() >= 3);
    }
    first = Error(JOBS_RESULT_CLOSED, "released"); // destroys the last connection
    CHECK(seen.use_count() == 1);                    // and with it every callback copy
    printf("ok config callbacks copied\n");
}

} // namespace

int main() {
    failed_value(); // first: it may fork
    results_and_names();
    documents();
    configs_and_connections();
    offline_outcomes();
    destroyed_with_requests_in_flight();
    destroyed_inside_its_own_callback();
    config_callbacks_are_copied_when_a_handle_is_built();
    return test_finish();
}
