/**
 * @file iotjobs.hpp
 * A header-only C++17 wrapper over iotjobs.h: RAII handles, lambdas for callbacks,
 * `std::string_view` for borrowed strings and `Result<T>` for every fallible call.
 *
 * Each wrapper calls one C function, named in its comment; iotjobs.h stays the reference for
 * what that function does, which thread calls back, whether it blocks and every result code.
 * Link as for C (`iotjobs::iotjobs_cpp` in CMake; `pkg-config --cflags --libs iotjobs`), with
 * `-pthread`.
 *
 * Errors, with or without exceptions. Every fallible call returns `Result<T>`: a value, or an
 * `Error` carrying the C `jobs_result` code and its message (the calling thread's
 * `jobs_last_error_message` for a call that failed at once; `jobs_result_str` for an outcome
 * delivered later, which has no other text). Nothing in this header throws by itself, so it
 * works with `-fno-exceptions`; the choice only shows in `Result<T>::value()` (and `*`, `->`)
 * on an error: with exceptions enabled (`__cpp_exceptions`) it throws `iotjobs::Exception`, a
 * `std::runtime_error` holding the `Error`; without them it prints the error on stderr and
 * calls `std::abort()`. `value_or_throw()` exists only with exceptions, for code that wants to
 * say so. Check `ok()` first, or use `value_or()`, where failing is expected.
 *
 * Ownership. `Config`, `Connection`, `Client`, `Reply` and `Document` own their C handle and
 * free it in their destructor. They are move-only; a moved-from object holds no handle, and
 * its calls fail with `JOBS_RESULT_NULL_ARGUMENT`. `ConnectionRef`, `MessageView` and
 * `DocumentView` are borrowed views: copyable, never freeing anything, valid as long as what
 * they view (each function that returns one says how long).
 *
 * Threads. As in C: a `Config` must not be changed from two threads at once; connections and
 * clients are internally synchronized, so their calls may come from any thread and from inside
 * any callback (the blocking ones too). Moving or destroying a handle while another thread uses
 * it is a data race, as freeing it is in C.
 *
 * Callbacks are `std::function`s (lambdas); user code never sees a `void *`. All run on the
 * library's callback thread (`iotjobs-callback`), one at a time, in order. The state behind a
 * callback (the function and everything it captured) is owned by the handle it was given to,
 * and is destroyed only when the C side can no longer call it: after that handle's `*_free`
 * has returned. A handle may be destroyed from inside one of its own callbacks, as in C: the
 * running callback finishes normally. A callback must not throw: an exception cannot cross the
 * C library, so one leaving a callback calls `std::terminate`.
 *
 * Strings. String arguments are `StringArg`: a `const char *` or a `std::string`,
 * NUL-terminated and borrowed only for the call (the library copies what it keeps). Strings the
 * library lends come back as `std::string_view`, each with its lifetime stated where it is
 * returned; an absent string is an empty view.
 *
 * The job agent. `Agent::create(client, options)` wraps `jobs_agent_*`: handlers are
 * `JobHandler`s (a `run` lambda on the agent's worker thread, an optional `on_cancel`, a resume
 * policy), the job is a borrowed `Job` view (`jobs_job_*`). With exceptions enabled, an
 * exception leaving a handler fails its job with the exception's text; nothing else throws.
 *
 * Requests. `Client::get_pending`, `start_next`, `describe` and `update` take a small C++
 * struct (`GetPendingArgs`, ...) that owns its strings and whose constructor takes its
 * defaults from the C `*_args_init` function, so the library stays the one owner of them; and
 * a `Deadline` (any `std::chrono` duration; omitted, the library's default). Each exists in
 * three forms with exactly one outcome: blocking (`Result<Reply>`), with a completion callback
 * (`*_async(args, deadline, on_done)`), and with a `std::future<Result<Reply>>`
 * (`*_async(args, deadline)`). An accepted reply is the value; a rejected one is an `Error`
 * with code `JOBS_RESULT_REJECTED` whose `reply()` holds AWS's answer. Futures are completed
 * on the callback thread: never wait for one there (the blocking forms are safe in callbacks).
 */
#ifndef IOTJOBS_HPP
#define IOTJOBS_HPP

#if !(__cplusplus >= 201703L || (defined(_MSVC_LANG) && _MSVC_LANG >= 201703L))
#error "iotjobs.hpp needs C++17 or later; C++11 code can use iotjobs.h directly"
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iotjobs.h"

/* 1 when this translation unit is compiled with exceptions: then a failed Result's value()
 * throws iotjobs::Exception, else it aborts. */
#if defined(__cpp_exceptions) && __cpp_exceptions
#define IOTJOBS_HPP_EXCEPTIONS 1
#else
#define IOTJOBS_HPP_EXCEPTIONS 0
#endif

namespace iotjobs {

// ---------------------------------------------------------------------------------------------
// Enums: the C enums themselves, under C++ names. Their values are the C constants (JOBS_*).

using ResultCode = jobs_result;
using Status = jobs_status;
using TopicType = jobs_topic_type;
using ReplyType = jobs_reply_type;
using RejectionCode = jobs_rejection_code;
using Offline = jobs_offline;
using EventKind = jobs_event_kind;
using ConnectionState = jobs_connection_state;
using LogLevel = jobs_log_level;
using Counter = jobs_counter;
using Transport = jobs_transport;
using Protocol = jobs_protocol;
using DropPolicy = jobs_drop_policy;
using Delivery = jobs_delivery;
using AgentEventKind = jobs_agent_event_kind;
using ResumePolicy = jobs_resume_policy;
using CustomAuthForm = jobs_custom_auth_form;

// The names of enum values, from the C `jobs_*_str` functions ("unknown" for a value this
// version does not define). Static strings: valid for the whole program.
inline std::string_view to_string(ResultCode v) noexcept { return jobs_result_str(v); }
inline std::string_view to_string(Status v) noexcept { return jobs_status_str(v); }
inline std::string_view to_string(TopicType v) noexcept { return jobs_topic_type_str(v); }
inline std::string_view to_string(ReplyType v) noexcept { return jobs_reply_type_str(v); }
inline std::string_view to_string(RejectionCode v) noexcept { return jobs_rejection_code_str(v); }
inline std::string_view to_string(Offline v) noexcept { return jobs_offline_str(v); }
inline std::string_view to_string(EventKind v) noexcept { return jobs_event_kind_str(v); }
inline std::string_view to_string(ConnectionState v) noexcept {
    return jobs_connection_state_str(v);
}
inline std::string_view to_string(LogLevel v) noexcept { return jobs_log_level_str(v); }
inline std::string_view to_string(Counter v) noexcept { return jobs_counter_str(v); }
inline std::string_view to_string(Transport v) noexcept { return jobs_transport_str(v); }
inline std::string_view to_string(Protocol v) noexcept { return jobs_protocol_str(v); }
inline std::string_view to_string(DropPolicy v) noexcept { return jobs_drop_policy_str(v); }
inline std::string_view to_string(Delivery v) noexcept { return jobs_delivery_str(v); }
inline std::string_view to_string(CustomAuthForm v) noexcept {
    return jobs_custom_auth_form_str(v);
}
inline std::string_view to_string(AgentEventKind v) noexcept {
    return jobs_agent_event_kind_str(v);
}
inline std::string_view to_string(ResumePolicy v) noexcept { return jobs_resume_policy_str(v); }

// The library's version and key dependencies (`jobs_version`). Static: valid for the whole
// program.
inline std::string_view version() noexcept { return jobs_version(); }

// ---------------------------------------------------------------------------------------------
// Errors and results

class Reply;

// A failed call or request: the C result code and what went wrong. Copyable.
class Error {
public:
    // No error (code JOBS_RESULT_OK): what `Result::error()` returns for a success.
    Error() = default;
    Error(ResultCode code, std::string message) : code_(code), message_(std::move(message)) {}
    // A rejection, with AWS's reply.
    Error(ResultCode code, std::string message, std::shared_ptr<const Reply> reply)
        : code_(code), message_(std::move(message)), reply_(std::move(reply)) {}

    // The failure of a C call made just now on this thread: its code and the thread's
    // last-error message (`jobs_last_error_message`), or the code's description if there is
    // none. Call it before any other library call on this thread.
    static Error from_last_error(ResultCode code) {
        std::string message;
        std::size_t length = jobs_last_error_message(nullptr, 0);
        if (length > 0) {
            std::vector<char> buffer(length + 1);
            length = jobs_last_error_message(buffer.data(), buffer.size());
            message.assign(buffer.data(), length < buffer.size() ? length : buffer.size() - 1);
        }
        if (message.empty()) message = jobs_result_str(code);
        return Error(code, std::move(message));
    }

    // An outcome the library delivered later, without a message of its own: the code and its
    // description (`jobs_result_str`).
    static Error from_code(ResultCode code) { return Error(code, jobs_result_str(code)); }

    ResultCode code() const noexcept { return code_; }
    // What went wrong, in the library's words.
    const std::string &message() const noexcept { return message_; }

    // A document getter found nothing at the path (JOBS_RESULT_NOT_FOUND).
    bool missing() const noexcept { return code_ == JOBS_RESULT_NOT_FOUND; }
    // A document getter found a value of another type at the path (JOBS_RESULT_WRONG_TYPE).
    bool wrong_type() const noexcept { return code_ == JOBS_RESULT_WRONG_TYPE; }
    // AWS rejected the request (JOBS_RESULT_REJECTED); `reply()` says why.
    bool rejected() const noexcept { return code_ == JOBS_RESULT_REJECTED; }

    // AWS's rejected reply, for a request rejected with JOBS_RESULT_REJECTED; nullptr
    // otherwise. Valid as long as this Error or a copy of it.
    const Reply *reply() const noexcept { return reply_.get(); }

    // "<message> (jobs_result <code>)", for logs. (The library's messages start with the
    // code's description.)
    std::string to_string() const {
        std::string text = message_.empty() ? std::string(jobs_result_str(code_)) : message_;
        return text + " (jobs_result " + std::to_string(static_cast<std::uint32_t>(code_)) + ")";
    }

private:
    ResultCode code_ = JOBS_RESULT_OK;
    std::string message_;
    std::shared_ptr<const Reply> reply_;
};

// What `Result::value()` throws on an error when exceptions are enabled.
class Exception : public std::runtime_error {
public:
    explicit Exception(const Error &error)
        : std::runtime_error(error.to_string()), error_(std::make_shared<const Error>(error)) {}
    const Error &error() const noexcept { return *error_; }
    ResultCode code() const noexcept { return error_->code(); }

private:
    // Shared, so that copying the exception cannot throw.
    std::shared_ptr<const Error> error_;
};

namespace detail {

// value() of a failed Result: throws, or prints and aborts without exceptions.
[[noreturn]] inline void value_of_failed_result(const Error &error) {
#if IOTJOBS_HPP_EXCEPTIONS
    throw Exception(error);
#else
    std::fprintf(stderr, "iotjobs: value() of a failed Result: %s\n", error.to_string().c_str());
    std::fflush(stderr);
    std::abort();
#endif
}

// An Error that has a failure code, whatever it was made from: a Result's error is never OK.
inline Error failure(Error error) {
    if (error.code() == JOBS_RESULT_OK) {
        return Error(JOBS_RESULT_INTERNAL, "a Result was made from an Error without a code");
    }
    return error;
}

} // namespace detail

// The value of a fallible call, or its Error.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Error error) : error_(detail::failure(std::move(error))) {}

    bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    // The error; code JOBS_RESULT_OK for a success.
    const Error &error() const noexcept { return error_; }

    // The value; on an error, throws Exception (or aborts without exceptions).
    T &value() & {
        if (!ok()) detail::value_of_failed_result(error_);
        return *value_;
    }
    const T &value() const & {
        if (!ok()) detail::value_of_failed_result(error_);
        return *value_;
    }
    T &&value() && {
        if (!ok()) detail::value_of_failed_result(error_);
        return std::move(*value_);
    }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }
    T &&operator*() && { return std::move(*this).value(); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }

    // The value, or `fallback` on an error.
    template <class U>
    T value_or(U &&fallback) const & {
        return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    T value_or(U &&fallback) && {
        return ok() ? std::move(*value_) : static_cast<T>(std::forward<U>(fallback));
    }

#if IOTJOBS_HPP_EXCEPTIONS
    // value(), for code that wants to say it throws; only with exceptions enabled.
    T &value_or_throw() & { return value(); }
    const T &value_or_throw() const & { return value(); }
    T &&value_or_throw() && { return std::move(*this).value(); }
#endif

private:
    std::optional<T> value_;
    Error error_;
};

// Success without a value, or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(detail::failure(std::move(error))) {}

    bool ok() const noexcept { return error_.code() == JOBS_RESULT_OK; }
    explicit operator bool() const noexcept { return ok(); }
    const Error &error() const noexcept { return error_; }
    // Nothing on success; on an error, throws Exception (or aborts without exceptions).
    void value() const {
        if (!ok()) detail::value_of_failed_result(error_);
    }
#if IOTJOBS_HPP_EXCEPTIONS
    void value_or_throw() const { value(); }
#endif

private:
    Error error_;
};

namespace detail {

// Result<void> of a C call made just now on this thread.
inline Result<void> check(ResultCode rc) {
    if (rc == JOBS_RESULT_OK) return {};
    return Error::from_last_error(rc);
}

inline std::string_view view(const char *text) noexcept {
    return text != nullptr ? std::string_view(text) : std::string_view();
}

inline std::string_view view(const char *text, std::size_t length) noexcept {
    return text != nullptr ? std::string_view(text, length) : std::string_view();
}

inline std::string_view bytes_view(const std::uint8_t *bytes, std::size_t length) noexcept {
    return bytes != nullptr ? std::string_view(reinterpret_cast<const char *>(bytes), length)
                            : std::string_view();
}

inline const std::uint8_t *bytes_of(std::string_view text) noexcept {
    return reinterpret_cast<const std::uint8_t *>(text.data());
}

// A duration as the C API's uint32_t milliseconds: rounded up (so 1 us is 1 ms, not the
// invalid 0), negative as 0 and too long as UINT32_MAX, both of which the library refuses.
template <class Rep, class Period>
constexpr std::uint32_t to_c_milliseconds(std::chrono::duration<Rep, Period> d) noexcept {
    constexpr std::uint32_t most = std::numeric_limits<std::uint32_t>::max();
    if (d <= std::chrono::duration<Rep, Period>::zero()) return 0;
    if (d >= std::chrono::duration<double, std::milli>(static_cast<double>(most))) return most;
    return static_cast<std::uint32_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

template <class Rep, class Period>
constexpr std::uint32_t to_c_seconds(std::chrono::duration<Rep, Period> d) noexcept {
    constexpr std::uint32_t most = std::numeric_limits<std::uint32_t>::max();
    if (d <= std::chrono::duration<Rep, Period>::zero()) return 0;
    if (d >= std::chrono::duration<double>(static_cast<double>(most))) return most;
    return static_cast<std::uint32_t>(std::chrono::ceil<std::chrono::seconds>(d).count());
}

} // namespace detail

// A NUL-terminated string argument, borrowed for the duration of the call: a `const char *`,
// a `std::string`, an optional one, or none (`{}` or `nullptr`, passed to C as NULL, where the
// C function allows it). Only for parameters: it does not keep the string alive.
class StringArg {
public:
    constexpr StringArg() noexcept = default;
    constexpr StringArg(std::nullptr_t) noexcept {}
    constexpr StringArg(const char *text) noexcept : text_(text) {}
    StringArg(const std::string &text) noexcept : text_(text.c_str()) {}
    StringArg(const std::optional<std::string> &text) noexcept
        : text_(text ? text->c_str() : nullptr) {}
    constexpr const char *c_str() const noexcept { return text_; }

private:
    const char *text_ = nullptr;
};

// How long a request waits for its reply: any std::chrono duration, rounded up to whole
// milliseconds (the library accepts 1 ms to 24 h), or, default-constructed, the library's
// default (the `*_args_init` value).
class Deadline {
public:
    constexpr Deadline() noexcept = default;
    template <class Rep, class Period>
    constexpr Deadline(std::chrono::duration<Rep, Period> d) noexcept
        : milliseconds_(detail::to_c_milliseconds(d)), is_set_(true) {}

    constexpr bool is_default() const noexcept { return !is_set_; }
    constexpr std::uint32_t milliseconds() const noexcept { return milliseconds_; }

private:
    std::uint32_t milliseconds_ = 0;
    bool is_set_ = false;
};

// ---------------------------------------------------------------------------------------------
// Borrowed views of documents and messages

// Seconds since the epoch, as the Jobs API reports them.
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

namespace detail {
inline std::optional<Timestamp> timestamp(std::int64_t seconds) noexcept {
    if (seconds == 0) return std::nullopt; // the API's "absent"
    return Timestamp(std::chrono::seconds(seconds));
}
} // namespace detail

// A JSON document read by path (`jobs_document_*`). A path is member names separated by dots,
// array indexes in brackets, and names containing `.`, `[` or `]` as a quoted JSON string in
// brackets: `steps[2].input.handler`, `["a.b"].c`; the empty path is the whole document.
// Every getter's Error tells "missing" (`missing()`, JOBS_RESULT_NOT_FOUND) from "another type"
// (`wrong_type()`, JOBS_RESULT_WRONG_TYPE); a malformed path is JOBS_RESULT_INVALID_PATH.
// Strings returned are borrowed from the document: valid as long as it is. Safe to read from
// several threads at once; no getter blocks.
class DocumentView {
public:
    explicit DocumentView(const jobs_document *document) noexcept : document_(document) {}
    const jobs_document *native() const noexcept { return document_; }

    // `jobs_document_get_string`: the whole string, embedded NULs included.
    Result<std::string_view> get_string(StringArg path) const {
        const char *text = nullptr;
        std::size_t length = 0;
        ResultCode rc = jobs_document_get_string(document_, path.c_str(), &text, &length);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return detail::view(text, length);
    }
    // `jobs_document_get_int`: an integer that fits in 64 bits (2.5 is the wrong type).
    Result<std::int64_t> get_int(StringArg path) const {
        std::int64_t value = 0;
        ResultCode rc = jobs_document_get_int(document_, path.c_str(), &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_document_get_number`: any number, integers too.
    Result<double> get_number(StringArg path) const {
        double value = 0;
        ResultCode rc = jobs_document_get_number(document_, path.c_str(), &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_document_get_bool`.
    Result<bool> get_bool(StringArg path) const {
        bool value = false;
        ResultCode rc = jobs_document_get_bool(document_, path.c_str(), &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_document_array_length`.
    Result<std::size_t> array_length(StringArg path) const {
        std::size_t value = 0;
        ResultCode rc = jobs_document_array_length(document_, path.c_str(), &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_document_member_count`: the members of the object at `path`.
    Result<std::size_t> member_count(StringArg path) const {
        std::size_t value = 0;
        ResultCode rc = jobs_document_member_count(document_, path.c_str(), &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_document_member_name`: member `index` of the object at `path`, members sorted by
    // name; an index past the end is missing.
    Result<std::string_view> member_name(StringArg path, std::size_t index) const {
        const char *name = nullptr;
        ResultCode rc = jobs_document_member_name(document_, path.c_str(), index, &name);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return detail::view(name);
    }
    // Every member name of the object at `path`, sorted.
    Result<std::vector<std::string_view>> member_names(StringArg path) const {
        Result<std::size_t> count = member_count(path);
        if (!count) return count.error();
        std::vector<std::string_view> names;
        names.reserve(*count);
        for (std::size_t i = 0; i < *count; i++) {
            Result<std::string_view> name = member_name(path, i);
            if (!name) return name.error();
            names.push_back(*name);
        }
        return names;
    }

protected:
    const jobs_document *document_ = nullptr;
};

// A document parsed from JSON text, owned (`jobs_document_parse` / `jobs_document_free`).
class Document : public DocumentView {
public:
    // `jobs_document_parse`: UTF-8 JSON of at most 1 MiB (copied; need not be NUL-terminated).
    static Result<Document> parse(std::string_view json) {
        jobs_document *document = nullptr;
        ResultCode rc = jobs_document_parse(json.data(), json.size(), &document);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return Document(document);
    }

    Document(Document &&other) noexcept : DocumentView(std::exchange(other.document_, nullptr)) {}
    Document &operator=(Document &&other) noexcept {
        if (this != &other) {
            destroy();
            document_ = std::exchange(other.document_, nullptr);
        }
        return *this;
    }
    Document(const Document &) = delete;
    Document &operator=(const Document &) = delete;
    ~Document() { destroy(); }

private:
    explicit Document(jobs_document *document) noexcept : DocumentView(document) {}
    void destroy() noexcept {
        // Ours: parse gave it to this object.
        jobs_document_free(const_cast<jobs_document *>(document_));
        document_ = nullptr;
    }
};

// A status details pair; both strings borrowed from the message (as long as it is valid).
struct StatusDetail {
    std::string_view key;
    std::string_view value;
};

// One pending execution of a GetPending reply or a notify message (`jobs_job_summary`).
struct JobSummary {
    // Borrowed from the message: valid as long as the message (or reply) is.
    std::string_view job_id;
    std::optional<Timestamp> queued_at;
    std::optional<Timestamp> started_at;
    std::optional<Timestamp> last_updated_at;
    std::uint64_t version_number = 0;   // 0 when AWS sent none
    std::uint64_t execution_number = 0; // 0 when AWS sent none
};

// A message on a jobs topic (`jobs_message_*` getters), borrowed: a message handler's is valid
// until the handler returns, a Reply's as long as the Reply. Every string it returns is valid
// as long as the message; an absent one is empty. Safe to read from several threads at once;
// no getter blocks.
class MessageView {
public:
    explicit MessageView(const jobs_message *message) noexcept : message_(message) {}
    const jobs_message *native() const noexcept { return message_; }

    // The topic and the raw payload (not NUL-terminated; usually JSON text).
    std::string_view topic() const noexcept {
        std::size_t length = 0;
        const char *topic = jobs_message_topic(message_, &length);
        return detail::view(topic, length);
    }
    std::string_view payload() const noexcept {
        std::size_t length = 0;
        const std::uint8_t *payload = jobs_message_payload(message_, &length);
        return detail::bytes_view(payload, length);
    }
    // What the topic says: the thing, the topic and reply types, the job id (describe and
    // update topics only; may be `$next`).
    std::string_view thing_name() const noexcept {
        return detail::view(jobs_message_thing_name(message_));
    }
    TopicType topic_type() const noexcept {
        return static_cast<TopicType>(jobs_message_topic_type(message_));
    }
    ReplyType reply_type() const noexcept {
        return static_cast<ReplyType>(jobs_message_reply_type(message_));
    }
    std::string_view topic_job_id() const noexcept {
        return detail::view(jobs_message_job_id(message_));
    }

    // False when the payload is not the response its topic announces (`payload()` still is).
    bool is_parsed() const noexcept { return jobs_message_is_parsed(message_); }
    // Whether it carries a job execution; false means "no pending job" on start-next,
    // describe and notify-next.
    bool has_execution() const noexcept { return jobs_message_has_execution(message_); }
    // The execution: its job id (the execution's `jobId`, or the topic's for update replies
    // and rejections), status (NOT_SET when none), version (pass it as the next update's
    // expected version; 0 when none), execution number, times.
    std::string_view execution_job_id() const noexcept {
        return detail::view(jobs_message_execution_job_id(message_));
    }
    Status status() const noexcept { return static_cast<Status>(jobs_message_status(message_)); }
    std::uint64_t version_number() const noexcept {
        return jobs_message_version_number(message_);
    }
    std::uint64_t execution_number() const noexcept {
        return jobs_message_execution_number(message_);
    }
    std::optional<Timestamp> queued_at() const noexcept {
        return detail::timestamp(jobs_message_queued_at(message_));
    }
    std::optional<Timestamp> started_at() const noexcept {
        return detail::timestamp(jobs_message_started_at(message_));
    }
    std::optional<Timestamp> last_updated_at() const noexcept {
        return detail::timestamp(jobs_message_last_updated_at(message_));
    }

    // The job document: as JSON text, and parsed for reading by path (none when the message
    // has no document, or it is not JSON). The view is borrowed from the message.
    std::string_view job_document_json() const noexcept {
        std::size_t length = 0;
        const char *json = jobs_message_job_document(message_, &length);
        return detail::view(json, length);
    }
    std::optional<DocumentView> document() const noexcept {
        const jobs_document *document = jobs_message_document(message_);
        if (document == nullptr) return std::nullopt;
        return DocumentView(document);
    }

    // The execution's status details: as a JSON object text, and pair by pair in AWS's order.
    std::string_view status_details_json() const noexcept {
        return detail::view(jobs_message_status_details(message_));
    }
    std::size_t status_detail_count() const noexcept {
        return jobs_message_status_details_count(message_);
    }
    // `jobs_message_status_detail`: an index past the end is missing.
    Result<StatusDetail> status_detail(std::size_t index) const {
        const char *key = nullptr;
        const char *value = nullptr;
        ResultCode rc = jobs_message_status_detail(message_, index, &key, &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return StatusDetail{detail::view(key), detail::view(value)};
    }
    std::vector<StatusDetail> status_details() const {
        std::vector<StatusDetail> pairs;
        for (std::size_t i = 0, n = status_detail_count(); i < n; i++) {
            Result<StatusDetail> pair = status_detail(i);
            if (pair) pairs.push_back(*pair);
        }
        return pairs;
    }

    // The client token AWS echoed.
    std::string_view client_token() const noexcept {
        return detail::view(jobs_message_client_token(message_));
    }
    // Why AWS rejected the request: the code (NONE unless this is a rejection), the code as
    // AWS sent it, and AWS's explanation.
    RejectionCode rejection_code() const noexcept {
        return static_cast<RejectionCode>(jobs_message_rejection_code(message_));
    }
    std::string_view rejection_text() const noexcept {
        return detail::view(jobs_message_rejection_text(message_));
    }
    std::string_view rejection_message() const noexcept {
        return detail::view(jobs_message_rejection_message(message_));
    }

    // The pending executions with `status` (IN_PROGRESS or QUEUED) of a GetPending reply or a
    // notify message (`jobs_message_pending_count`, `jobs_message_pending_job`).
    std::size_t pending_count(Status status) const noexcept {
        return jobs_message_pending_count(message_, status);
    }
    Result<JobSummary> pending_job(Status status, std::size_t index) const {
        jobs_job_summary summary{};
        summary.struct_size = sizeof summary;
        ResultCode rc = jobs_message_pending_job(message_, status, index, &summary);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        JobSummary job;
        job.job_id = detail::view(summary.job_id);
        job.queued_at = detail::timestamp(summary.queued_at);
        job.started_at = detail::timestamp(summary.started_at);
        job.last_updated_at = detail::timestamp(summary.last_updated_at);
        job.version_number = summary.version_number;
        job.execution_number = summary.execution_number;
        return job;
    }
    std::vector<JobSummary> pending_jobs(Status status) const {
        std::vector<JobSummary> jobs;
        for (std::size_t i = 0, n = pending_count(status); i < n; i++) {
            Result<JobSummary> job = pending_job(status, i);
            if (job) jobs.push_back(*job);
        }
        return jobs;
    }

protected:
    const jobs_message *message_ = nullptr;
};

// The reply to a request, owned (`jobs_reply_free`): AWS's accepted or rejected message, read
// with every MessageView getter. Its strings and document are valid as long as the Reply
// (moving it keeps them valid: they live in the C reply, which does not move).
class Reply : public MessageView {
public:
    // A copy the caller owns of a reply the library lends (`jobs_reply_copy`), e.g. in a C
    // `jobs_reply_callback`.
    static Result<Reply> copy_of(const jobs_reply *lent) {
        jobs_reply *owned = nullptr;
        ResultCode rc = jobs_reply_copy(lent, &owned);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return Reply(owned);
    }
    // Another owned reply that reads the same (`jobs_reply_copy`; the parse is shared).
    Result<Reply> copy() const { return copy_of(reply_); }

    bool accepted() const noexcept { return reply_type() == JOBS_REPLY_TYPE_ACCEPTED; }
    bool rejected() const noexcept { return reply_type() == JOBS_REPLY_TYPE_REJECTED; }
    const jobs_reply *native_reply() const noexcept { return reply_; }

    Reply(Reply &&other) noexcept
        : MessageView(std::exchange(other.message_, nullptr)),
          reply_(std::exchange(other.reply_, nullptr)) {}
    Reply &operator=(Reply &&other) noexcept {
        if (this != &other) {
            jobs_reply_free(reply_);
            message_ = std::exchange(other.message_, nullptr);
            reply_ = std::exchange(other.reply_, nullptr);
        }
        return *this;
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;
    ~Reply() { jobs_reply_free(reply_); }

private:
    friend class Client;
    explicit Reply(jobs_reply *owned) noexcept
        : MessageView(jobs_reply_message(owned)), reply_(owned) {}
    jobs_reply *reply_ = nullptr;
};

// One asynchronous connection event (`jobs_event_callback`).
struct ConnectionEvent {
    EventKind kind;
    // Why: for example JOBS_RESULT_NETWORK for a failed connection attempt.
    ResultCode result;
    // The subscription or request concerned (may be empty) and an explanation; both borrowed,
    // valid until the event handler returns.
    std::string_view topic;
    std::string_view message;
};

// ---------------------------------------------------------------------------------------------
// Callbacks. Every one runs on the callback thread; what it is given is valid until it returns.

// Connection up (after resubscription) or down.
using StateHandler = std::function<void()>;
// Every message the connection receives: its topic and raw payload.
using RawMessageHandler = std::function<void(std::string_view topic, std::string_view payload)>;
// Asynchronous connection events.
using EventHandler = std::function<void(const ConnectionEvent &event)>;
// Log lines up to the configured level.
using LogHandler = std::function<void(LogLevel level, std::string_view line)>;
// A message on one of the client's jobs topics (notify, notify-next, fallback).
using JobsMessageHandler = std::function<void(const MessageView &message)>;
// The one outcome of an asynchronous request: the accepted Reply, or an Error (REJECTED with
// AWS's reply, TIMEOUT, PROTOCOL, CANCELLED, CLOSED, DROPPED).
using ReplyHandler = std::function<void(Result<Reply> outcome)>;

namespace detail {

// The connection-level callbacks of a Config, handed to C as the config's user data. A handle
// built from the Config shares this object and keeps it until its *_free has returned; the
// Config copies it before any later change, so a built handle's callbacks never change.
struct ConnectionCallbacks {
    StateHandler on_online;
    StateHandler on_offline;
    RawMessageHandler on_message;
    EventHandler on_event;
    LogHandler on_log;
    // Lets a trampoline keep this object alive while its handler runs: the handler may destroy
    // the handle that owns it (allowed, as in C).
    std::weak_ptr<ConnectionCallbacks> self;

    static std::shared_ptr<ConnectionCallbacks> make(const ConnectionCallbacks *from) {
        auto made = from != nullptr ? std::make_shared<ConnectionCallbacks>(*from)
                                    : std::make_shared<ConnectionCallbacks>();
        made->self = made;
        return made;
    }
    static std::shared_ptr<ConnectionCallbacks> of(void *user_data) noexcept {
        return static_cast<ConnectionCallbacks *>(user_data)->self.lock();
    }

    static void online(void *user_data) noexcept {
        auto callbacks = of(user_data);
        if (callbacks && callbacks->on_online) callbacks->on_online();
    }
    static void offline(void *user_data) noexcept {
        auto callbacks = of(user_data);
        if (callbacks && callbacks->on_offline) callbacks->on_offline();
    }
    static void message(void *user_data, const char *topic, std::size_t topic_length,
                        const std::uint8_t *payload, std::size_t payload_length) noexcept {
        auto callbacks = of(user_data);
        if (callbacks && callbacks->on_message) {
            callbacks->on_message(view(topic, topic_length), bytes_view(payload, payload_length));
        }
    }
    static void event(void *user_data, std::uint32_t kind, jobs_result result, const char *topic,
                      const char *message) noexcept {
        auto callbacks = of(user_data);
        if (callbacks && callbacks->on_event) {
            callbacks->on_event(
                ConnectionEvent{static_cast<EventKind>(kind), result, view(topic), view(message)});
        }
    }
    static void log(void *user_data, std::uint32_t level, const char *line) noexcept {
        auto callbacks = of(user_data);
        if (callbacks && callbacks->on_log) {
            callbacks->on_log(static_cast<LogLevel>(level), view(line));
        }
    }
};

struct ClientState;

// One asynchronous request in flight: its completion, owned by the client until it completes
// (or the client is destroyed: the C library then never calls back).
struct PendingRequest {
    ClientState *client = nullptr;
    ReplyHandler on_done;                                 // the callback form, or
    std::shared_ptr<std::promise<Result<Reply>>> promise; // the future form

    void complete(Result<Reply> outcome) noexcept {
        if (promise) {
            promise->set_value(std::move(outcome));
        } else if (on_done) {
            on_done(std::move(outcome));
        }
    }
};

// A request's outcome from what the C library delivered to a `jobs_reply_callback`, with the
// lent reply copied so that it outlives the callback.
inline Result<Reply> outcome_of(jobs_result result, const jobs_reply *lent) {
    if (result == JOBS_RESULT_OK) {
        if (lent == nullptr) return Error(JOBS_RESULT_INTERNAL, "accepted without a reply");
        return Reply::copy_of(lent);
    }
    if (result == JOBS_RESULT_REJECTED && lent != nullptr) {
        Result<Reply> copy = Reply::copy_of(lent);
        if (!copy) return copy.error();
        // The words of the blocking form's last-error message.
        std::string why = std::string(jobs_result_str(result)) + ": rejected: " +
                          std::string(copy->rejection_text()) + ": " +
                          std::string(copy->rejection_message());
        return Error(result, std::move(why), std::make_shared<const Reply>(std::move(*copy)));
    }
    return Error::from_code(result);
}

// What a Client hands to C as user data: its jobs message handlers, its requests in flight
// and, for a client with its own connection, the connection's callbacks. Lives until
// jobs_client_free has returned.
struct ClientState {
    std::shared_ptr<ConnectionCallbacks> connection_callbacks;
    std::mutex lock;
    // Each handler is shared with the trampoline running it, so replacing or removing it while
    // it runs is safe.
    std::shared_ptr<const JobsMessageHandler> on_notify;
    std::shared_ptr<const JobsMessageHandler> on_notify_next;
    std::shared_ptr<const JobsMessageHandler> on_fallback;
    std::map<const PendingRequest *, std::unique_ptr<PendingRequest>> pending;

    std::shared_ptr<const JobsMessageHandler> *slot(TopicType type) noexcept {
        if (type == JOBS_TOPIC_TYPE_NOTIFY) return &on_notify;
        if (type == JOBS_TOPIC_TYPE_NOTIFY_NEXT) return &on_notify_next;
        return nullptr;
    }

    void add(std::unique_ptr<PendingRequest> request) {
        std::lock_guard<std::mutex> hold(lock);
        const PendingRequest *key = request.get();
        pending.emplace(key, std::move(request));
    }
    std::unique_ptr<PendingRequest> take(const PendingRequest *key) noexcept {
        std::lock_guard<std::mutex> hold(lock);
        auto found = pending.find(key);
        if (found == pending.end()) return nullptr;
        std::unique_ptr<PendingRequest> request = std::move(found->second);
        pending.erase(found);
        return request;
    }
    // After jobs_client_free: no request still pending will complete. Their futures get
    // JOBS_RESULT_CLOSED (a future must become ready); their callbacks are not called, as in C.
    void abandon_pending() noexcept {
        std::map<const PendingRequest *, std::unique_ptr<PendingRequest>> left;
        {
            std::lock_guard<std::mutex> hold(lock);
            left.swap(pending);
        }
        for (auto &entry : left) {
            if (entry.second->promise) {
                entry.second->complete(Error(
                    JOBS_RESULT_CLOSED, "the client was destroyed before the request completed"));
            }
        }
    }

    static void run(ClientState *state,
                    std::shared_ptr<const JobsMessageHandler> ClientState::*which,
                    const jobs_message *message) noexcept {
        std::shared_ptr<const JobsMessageHandler> handler;
        {
            std::lock_guard<std::mutex> hold(state->lock);
            handler = state->*which;
        }
        // Not touching `state` from here: the handler may destroy the client.
        if (handler && *handler) (*handler)(MessageView(message));
    }
    static void notify(void *user_data, const jobs_message *message) noexcept {
        run(static_cast<ClientState *>(user_data), &ClientState::on_notify, message);
    }
    static void notify_next(void *user_data, const jobs_message *message) noexcept {
        run(static_cast<ClientState *>(user_data), &ClientState::on_notify_next, message);
    }
    static void fallback(void *user_data, const jobs_message *message) noexcept {
        run(static_cast<ClientState *>(user_data), &ClientState::on_fallback, message);
    }
    static void reply(void *user_data, jobs_result result, const jobs_reply *lent) noexcept {
        auto *request = static_cast<PendingRequest *>(user_data);
        std::unique_ptr<PendingRequest> mine = request->client->take(request);
        // Not touching the client from here: completing may destroy it.
        if (mine) mine->complete(outcome_of(result, lent));
    }
};

} // namespace detail

// ---------------------------------------------------------------------------------------------
// Config

// Connection settings and connection-level callbacks (`jobs_config_*`), builder style: every
// setter returns the Config, and the first one that fails is kept in `error()` (later setters
// still apply); creating a Connection or Client from a Config with an error returns that error.
// Not internally synchronized: change one Config from one thread at a time. It may be
// destroyed as soon as the handles built from it exist; they keep the callbacks it had then.
class Config {
public:
    // `jobs_config_new`: the Python SDK's defaults (see iotjobs.h).
    Config() : callbacks_(detail::ConnectionCallbacks::make(nullptr)) {
        record(jobs_config_new(&config_));
        if (config_ != nullptr) record(jobs_config_set_user_data(config_, callbacks_.get()));
    }
    Config(Config &&other) noexcept
        : config_(std::exchange(other.config_, nullptr)),
          first_error_(std::move(other.first_error_)),
          callbacks_(std::move(other.callbacks_)),
          callbacks_shared_(other.callbacks_shared_) {}
    Config &operator=(Config &&other) noexcept {
        if (this != &other) {
            jobs_config_free(config_);
            config_ = std::exchange(other.config_, nullptr);
            first_error_ = std::move(other.first_error_);
            callbacks_ = std::move(other.callbacks_);
            callbacks_shared_ = other.callbacks_shared_;
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    ~Config() { jobs_config_free(config_); }

    // The first setter failure (code JOBS_RESULT_OK when none).
    const Error &error() const noexcept { return first_error_; }
    bool ok() const noexcept { return first_error_.code() == JOBS_RESULT_OK; }
    jobs_config *native() const noexcept { return config_; }

    // `jobs_config_set_endpoint`: host (DNS name or IP literal) and port 1-65535.
    Config &endpoint(StringArg host, std::uint16_t port) {
        return record(jobs_config_set_endpoint(config_, host.c_str(), port));
    }
    // `jobs_config_set_transport` (default TLS).
    Config &transport(Transport transport) {
        return record(jobs_config_set_transport(config_, transport));
    }
    // `jobs_config_set_client_id`: empty or none generates one.
    Config &client_id(StringArg client_id) {
        return record(jobs_config_set_client_id(config_, client_id.c_str()));
    }
    // `jobs_config_set_protocol` (default MQTT 3.1.1).
    Config &protocol(Protocol protocol) {
        return record(jobs_config_set_protocol(config_, protocol));
    }
    // `jobs_config_set_clean_session` (default true).
    Config &clean_session(bool clean) {
        return record(jobs_config_set_clean_session(config_, clean));
    }
    // `jobs_config_set_keep_alive`, rounded up to whole seconds (clamped to AWS's 30-1200 s).
    template <class Rep, class Period>
    Config &keep_alive(std::chrono::duration<Rep, Period> interval) {
        return record(jobs_config_set_keep_alive(config_, detail::to_c_seconds(interval)));
    }
    // `jobs_config_set_username_password`: none for `username` clears both.
    Config &username_password(StringArg username, StringArg password = {}) {
        return record(
            jobs_config_set_username_password(config_, username.c_str(), password.c_str()));
    }
    // `jobs_config_set_last_will` (QoS 0 or 1) and `jobs_config_clear_last_will`.
    Config &last_will(StringArg topic, std::string_view payload, unsigned qos, bool retain) {
        return record(jobs_config_set_last_will(config_, topic.c_str(), detail::bytes_of(payload),
                                                payload.size(), qos, retain));
    }
    Config &clear_last_will() { return record(jobs_config_clear_last_will(config_)); }
    // `jobs_config_set_timeouts`: connect/disconnect and operation (acks, PINGRESP) timeouts,
    // each 1 ms to 1 h, rounded up to milliseconds.
    template <class R1, class P1, class R2, class P2>
    Config &timeouts(std::chrono::duration<R1, P1> connect,
                     std::chrono::duration<R2, P2> operation) {
        return record(jobs_config_set_timeouts(config_, detail::to_c_milliseconds(connect),
                                               detail::to_c_milliseconds(operation)));
    }
    // `jobs_config_set_max_packet_size` (default 128 KiB).
    Config &max_packet_size(std::size_t bytes) {
        return record(jobs_config_set_max_packet_size(config_, bytes));
    }
    // TLS material: files (read when the handle is created) or PEM text (copied).
    Config &ca_file(StringArg path) {
        return record(jobs_config_set_ca_file(config_, path.c_str()));
    }
    Config &ca_pem(std::string_view pem) {
        return record(jobs_config_set_ca_pem(config_, detail::bytes_of(pem), pem.size()));
    }
    Config &cert_file(StringArg path) {
        return record(jobs_config_set_cert_file(config_, path.c_str()));
    }
    Config &cert_pem(std::string_view pem) {
        return record(jobs_config_set_cert_pem(config_, detail::bytes_of(pem), pem.size()));
    }
    Config &key_file(StringArg path) {
        return record(jobs_config_set_key_file(config_, path.c_str()));
    }
    // The library wipes its copy of the key when freed; wiping `pem` is the caller's.
    Config &key_pem(std::string_view pem) {
        return record(jobs_config_set_key_pem(config_, detail::bytes_of(pem), pem.size()));
    }
    // `jobs_config_set_alpn`: the one ALPN protocol to offer (empty: none).
    Config &alpn(StringArg protocol) {
        return record(jobs_config_set_alpn(config_, protocol.c_str()));
    }
    // `jobs_config_set_backoff`: reconnect waits from `base` doubling to `max`, back to `base`
    // after `stable` connected; rounded up to milliseconds.
    template <class R1, class P1, class R2, class P2, class R3, class P3>
    Config &backoff(std::chrono::duration<R1, P1> base, std::chrono::duration<R2, P2> max,
                    std::chrono::duration<R3, P3> stable, bool jitter) {
        return record(jobs_config_set_backoff(config_, detail::to_c_milliseconds(base),
                                              detail::to_c_milliseconds(max),
                                              detail::to_c_milliseconds(stable), jitter));
    }
    // `jobs_config_set_offline_queue`: -1 unbounded, 0 disabled, N at most N requests.
    Config &offline_queue(std::int64_t size, DropPolicy policy) {
        return record(jobs_config_set_offline_queue(config_, size, policy));
    }
    // `jobs_config_set_draining_rate`: queued requests sent per second after a reconnect.
    Config &draining_rate(double per_second) {
        return record(jobs_config_set_draining_rate(config_, per_second));
    }
    // `jobs_config_set_iam_credentials`, for WebSocket over TLS with SigV4.
    Config &iam_credentials(StringArg access_key_id, StringArg secret_access_key,
                            StringArg session_token = {}, StringArg region = {}) {
        return record(jobs_config_set_iam_credentials(config_, access_key_id.c_str(),
                                                      secret_access_key.c_str(),
                                                      session_token.c_str(), region.c_str()));
    }
    // `jobs_config_set_custom_authorizer`: authenticate through an AWS IoT custom authorizer
    // (see iotjobs.h: ALPN `mqtt` on TLS, the values in the CONNECT username or on the
    // WebSocket upgrade). `token_key_name` and `token` come together or not at all; none for
    // `token_signature` or `username`; `password` may hold any bytes (nullopt: none). The
    // library copies and later wipes them; wiping the caller's copies is the caller's.
    Config &custom_authorizer(StringArg authorizer_name, StringArg token_key_name = {},
                              StringArg token = {}, StringArg token_signature = {},
                              StringArg username = {},
                              std::optional<std::string_view> password = std::nullopt,
                              CustomAuthForm websocket_form = JOBS_CUSTOM_AUTH_FORM_HEADERS) {
        jobs_custom_authorizer_args args;
        jobs_result r = jobs_custom_authorizer_args_init(&args);
        if (r != JOBS_RESULT_OK) return record(r);
        args.authorizer_name = authorizer_name.c_str();
        args.token_key_name = token_key_name.c_str();
        args.token = token.c_str();
        args.token_signature = token_signature.c_str();
        args.username = username.c_str();
        if (password) {
            // Non-NULL even when empty: an empty password, not none.
            static const std::uint8_t empty = 0;
            args.password = password->empty() ? &empty : detail::bytes_of(*password);
            args.password_len = password->size();
        }
        args.websocket_form = websocket_form;
        return record(jobs_config_set_custom_authorizer(config_, &args));
    }
    // `jobs_config_set_custom_authorizer` with NULL: no custom authorizer.
    Config &clear_custom_authorizer() {
        return record(jobs_config_set_custom_authorizer(config_, nullptr));
    }
    // `jobs_config_set_callback_queue_limit`: bytes of messages, events and log lines waiting
    // for the callback thread before the connection stops reading its socket.
    Config &callback_queue_limit(std::size_t bytes) {
        return record(jobs_config_set_callback_queue_limit(config_, bytes));
    }
    // `jobs_config_set_thing_name` and `jobs_config_set_jobs_qos`, for Client::create(config).
    Config &thing_name(StringArg thing_name) {
        return record(jobs_config_set_thing_name(config_, thing_name.c_str()));
    }
    Config &jobs_qos(unsigned qos) { return record(jobs_config_set_jobs_qos(config_, qos)); }

    // Connection-level callbacks (an empty function removes one); see the callback types.
    // `jobs_config_set_on_online_offline`.
    Config &on_online(StateHandler handler) {
        if (!own_callbacks()) return *this;
        callbacks_->on_online = std::move(handler);
        return set_online_offline();
    }
    Config &on_offline(StateHandler handler) {
        if (!own_callbacks()) return *this;
        callbacks_->on_offline = std::move(handler);
        return set_online_offline();
    }
    // `jobs_config_set_on_message`: every message received, besides per-subscription handlers.
    Config &on_message(RawMessageHandler handler) {
        if (!own_callbacks()) return *this;
        callbacks_->on_message = std::move(handler);
        return record(jobs_config_set_on_message(
            config_, callbacks_->on_message ? &detail::ConnectionCallbacks::message : nullptr));
    }
    // `jobs_config_set_on_event`.
    Config &on_event(EventHandler handler) {
        if (!own_callbacks()) return *this;
        callbacks_->on_event = std::move(handler);
        return record(jobs_config_set_on_event(
            config_, callbacks_->on_event ? &detail::ConnectionCallbacks::event : nullptr));
    }
    // `jobs_config_set_log`: lines up to `most_verbose` (JOBS_LOG_LEVEL_OFF turns logging off).
    Config &on_log(LogLevel most_verbose, LogHandler handler) {
        if (!own_callbacks()) return *this;
        callbacks_->on_log = std::move(handler);
        jobs_log_callback trampoline =
            callbacks_->on_log ? &detail::ConnectionCallbacks::log : nullptr;
        return record(jobs_config_set_log(config_, trampoline, most_verbose));
    }

private:
    friend class Connection;
    friend class Client;

    Config &record(ResultCode rc) {
        if (rc != JOBS_RESULT_OK && ok()) first_error_ = Error::from_last_error(rc);
        return *this;
    }
    Config &set_online_offline() {
        return record(jobs_config_set_on_online_offline(
            config_, callbacks_->on_online ? &detail::ConnectionCallbacks::online : nullptr,
            callbacks_->on_offline ? &detail::ConnectionCallbacks::offline : nullptr));
    }
    // Before a callback changes: handles already built keep the set they were built with, so
    // the config moves to a copy. False (with the error recorded) for a moved-from Config.
    bool own_callbacks() {
        if (config_ == nullptr || !callbacks_) {
            if (ok()) first_error_ = Error(JOBS_RESULT_NULL_ARGUMENT, "cfg is NULL (moved from)");
            return false;
        }
        if (callbacks_shared_) {
            callbacks_ = detail::ConnectionCallbacks::make(callbacks_.get());
            callbacks_shared_ = false;
            record(jobs_config_set_user_data(config_, callbacks_.get()));
        }
        return true;
    }
    // For a handle being built from this config: the callbacks its C side will call.
    std::shared_ptr<detail::ConnectionCallbacks> share_callbacks() const {
        callbacks_shared_ = true;
        return callbacks_;
    }

    jobs_config *config_ = nullptr;
    Error first_error_;
    std::shared_ptr<detail::ConnectionCallbacks> callbacks_;
    // Set once a handle shares `callbacks_`.
    mutable bool callbacks_shared_ = false;
};

// ---------------------------------------------------------------------------------------------
// Connections

// A connection, borrowed: a Connection's, or a Client's own (`Client::connection()`). Never
// frees it. Its calls are internally synchronized (any thread, any callback).
class ConnectionRef {
public:
    ConnectionRef() noexcept = default;
    explicit ConnectionRef(jobs_connection *connection) noexcept : connection_(connection) {}
    // The C handle, borrowed, for the C functions not wrapped here (subscriptions, the
    // asynchronous publish): never free it.
    jobs_connection *native() const noexcept { return connection_; }

    // `jobs_connection_connect`: connects and waits for CONNACK (at most the connect timeout);
    // auto-reconnect is on from then until disconnect(). Blocks; safe in a callback.
    Result<void> connect() const { return detail::check(jobs_connection_connect(connection_)); }
    // `jobs_connection_connect_async`: returns at once, retries with backoff until connected.
    Result<void> connect_async() const {
        return detail::check(jobs_connection_connect_async(connection_));
    }
    // `jobs_connection_disconnect`: stops reconnecting and closes the link. Blocks.
    Result<void> disconnect() const {
        return detail::check(jobs_connection_disconnect(connection_));
    }
    // `jobs_connection_get_state` (CLOSED for no connection). Does not block.
    ConnectionState state() const noexcept {
        return static_cast<ConnectionState>(jobs_connection_get_state(connection_));
    }
    // `jobs_connection_counter`. Does not block.
    Result<std::uint64_t> counter(Counter counter) const {
        std::uint64_t value = 0;
        ResultCode rc = jobs_connection_counter(connection_, counter, &value);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return value;
    }
    // `jobs_connection_client_id`: the client id in use (copied; empty for no connection).
    std::string client_id() const {
        std::size_t length = jobs_connection_client_id(connection_, nullptr, 0);
        if (length == 0) return {};
        std::vector<char> buffer(length + 1);
        jobs_connection_client_id(connection_, buffer.data(), buffer.size());
        return std::string(buffer.data(), length);
    }
    // `jobs_connection_publish`: QoS 1 blocks until PUBACK (at most the operation timeout);
    // offline, the message is queued and this returns JOBS_DELIVERY_QUEUED at once.
    Result<Delivery> publish(StringArg topic, std::string_view payload, unsigned qos = 0,
                             bool retain = false) const {
        std::uint32_t delivery = JOBS_DELIVERY_SENT;
        ResultCode rc = jobs_connection_publish(connection_, topic.c_str(),
                                                detail::bytes_of(payload), payload.size(), qos,
                                                retain, &delivery);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return static_cast<Delivery>(delivery);
    }

protected:
    jobs_connection *connection_ = nullptr;
};

// An MQTT connection, owned (`jobs_connection_new` / `jobs_connection_free`), shareable by
// several Clients. Destroy those Clients first: afterwards their calls fail with
// JOBS_RESULT_CLOSED. Destroying it disconnects without waiting; it blocks only while one of
// its callbacks runs on the callback thread (from inside one, it does not wait for it).
class Connection : public ConnectionRef {
public:
    // `jobs_connection_new`: from the config's settings and callbacks, without connecting
    // (TLS files are read now). Does not block on the network.
    static Result<Connection> create(const Config &config) {
        if (!config.ok()) return config.error();
        jobs_connection *connection = nullptr;
        ResultCode rc = jobs_connection_new(config.native(), &connection);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return Connection(connection, config.share_callbacks());
    }

    Connection(Connection &&other) noexcept
        : ConnectionRef(std::exchange(other.connection_, nullptr)),
          callbacks_(std::move(other.callbacks_)) {}
    Connection &operator=(Connection &&other) noexcept {
        if (this != &other) {
            destroy();
            connection_ = std::exchange(other.connection_, nullptr);
            callbacks_ = std::move(other.callbacks_);
        }
        return *this;
    }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;
    ~Connection() { destroy(); }

private:
    Connection(jobs_connection *connection,
               std::shared_ptr<detail::ConnectionCallbacks> callbacks) noexcept
        : ConnectionRef(connection), callbacks_(std::move(callbacks)) {}
    void destroy() noexcept {
        jobs_connection_free(connection_);
        connection_ = nullptr;
        callbacks_.reset(); // only now: no callback of the connection runs any more
    }
    std::shared_ptr<detail::ConnectionCallbacks> callbacks_;
};

// ---------------------------------------------------------------------------------------------
// Requests

// What every request takes besides its deadline.
struct RequestOptions {
    // For reads (get-pending, start-next, describe) made while not connected: JOBS_OFFLINE_WAIT
    // (queued, sent once connected within the deadline) or JOBS_OFFLINE_FAIL_FAST
    // (JOBS_RESULT_NOT_CONNECTED at once). Updates are always queued while offline.
    Offline offline = JOBS_OFFLINE_WAIT;
    // The request's clientToken (at most 64 bytes), or none for one the library makes.
    std::optional<std::string> client_token;

protected:
    explicit RequestOptions(const jobs_request_options &defaults)
        : offline(static_cast<Offline>(defaults.offline)) {}
    void to_c(jobs_request_options &c, Deadline deadline) const {
        if (!deadline.is_default()) c.timeout_ms = deadline.milliseconds();
        c.offline = offline;
        c.client_token = client_token ? client_token->c_str() : nullptr;
    }
};

namespace detail {
template <class CArgs>
CArgs initialized(ResultCode (*init)(CArgs *)) noexcept {
    CArgs args{};
    (void)init(&args); // fails only for NULL
    return args;
}
} // namespace detail

// GetPendingJobExecutions.
struct GetPendingArgs : RequestOptions {
    GetPendingArgs() : RequestOptions(detail::initialized(&jobs_get_pending_args_init).options) {}
    jobs_get_pending_args to_c(Deadline deadline) const {
        jobs_get_pending_args c = detail::initialized(&jobs_get_pending_args_init);
        RequestOptions::to_c(c.options, deadline);
        return c;
    }
};

// StartNextPendingJobExecution.
struct StartNextArgs : RequestOptions {
    // A JSON object of string values (at most 10 pairs), or none.
    std::optional<std::string> status_details;
    // 1 to 10080 minutes, or 0 for none.
    std::chrono::minutes step_timeout{0};

    StartNextArgs() : StartNextArgs(detail::initialized(&jobs_start_next_args_init)) {}
    jobs_start_next_args to_c(Deadline deadline) const {
        jobs_start_next_args c = detail::initialized(&jobs_start_next_args_init);
        RequestOptions::to_c(c.options, deadline);
        c.status_details = status_details ? status_details->c_str() : nullptr;
        c.step_timeout_minutes = static_cast<std::int64_t>(step_timeout.count());
        return c;
    }

private:
    explicit StartNextArgs(const jobs_start_next_args &d)
        : RequestOptions(d.options), step_timeout(d.step_timeout_minutes) {}
};

// DescribeJobExecution.
struct DescribeArgs : RequestOptions {
    // A job id, or "$next" for the next pending execution. Required.
    std::string job_id;
    // 0 for the latest execution.
    std::uint64_t execution_number = 0;
    bool include_job_document = true;

    DescribeArgs() : DescribeArgs(detail::initialized(&jobs_describe_args_init)) {}
    explicit DescribeArgs(std::string job) : DescribeArgs() { job_id = std::move(job); }
    jobs_describe_args to_c(Deadline deadline) const {
        jobs_describe_args c = detail::initialized(&jobs_describe_args_init);
        RequestOptions::to_c(c.options, deadline);
        c.job_id = job_id.c_str();
        c.execution_number = execution_number;
        c.include_job_document = include_job_document;
        return c;
    }

private:
    explicit DescribeArgs(const jobs_describe_args &d)
        : RequestOptions(d.options),
          execution_number(d.execution_number),
          include_job_document(d.include_job_document) {}
};

// UpdateJobExecution.
struct UpdateArgs : RequestOptions {
    // Required.
    std::string job_id;
    // IN_PROGRESS, FAILED, SUCCEEDED or REJECTED; left NOT_SET, which is refused.
    Status status = JOBS_STATUS_NOT_SET;
    // A JSON object of string values (at most 10 pairs), or none.
    std::optional<std::string> status_details;
    // The version the update expects (a reply's version_number()), 0 for none.
    std::uint64_t expected_version = 0;
    // 0 for the latest execution.
    std::uint64_t execution_number = 0;
    bool include_job_execution_state = false;
    bool include_job_document = false;
    // 1 to 10080 minutes, or 0 for none.
    std::chrono::minutes step_timeout{0};

    UpdateArgs() : UpdateArgs(detail::initialized(&jobs_update_args_init)) {}
    UpdateArgs(std::string job, Status new_status) : UpdateArgs() {
        job_id = std::move(job);
        status = new_status;
    }
    jobs_update_args to_c(Deadline deadline) const {
        jobs_update_args c = detail::initialized(&jobs_update_args_init);
        RequestOptions::to_c(c.options, deadline);
        c.job_id = job_id.c_str();
        c.status = status;
        c.status_details = status_details ? status_details->c_str() : nullptr;
        c.expected_version = expected_version;
        c.execution_number = execution_number;
        c.include_job_execution_state = include_job_execution_state;
        c.include_job_document = include_job_document;
        c.step_timeout_minutes = static_cast<std::int64_t>(step_timeout.count());
        return c;
    }

private:
    explicit UpdateArgs(const jobs_update_args &d)
        : RequestOptions(d.options),
          status(static_cast<Status>(d.status)),
          expected_version(d.expected_version),
          execution_number(d.execution_number),
          include_job_execution_state(d.include_job_execution_state),
          include_job_document(d.include_job_document),
          step_timeout(d.step_timeout_minutes) {}
};

// ---------------------------------------------------------------------------------------------
// Jobs clients

// The jobs client of one thing, owned (`jobs_client_new[_with_connection]` /
// `jobs_client_free`): with its own connection, or over a shared Connection. Internally
// synchronized: its calls may come from any thread and from inside any callback.
//
// Destroying it (`jobs_client_free`) blocks only while one of its callbacks runs (from inside
// one, it does not wait for it); afterwards none of its handlers runs. A request still in
// flight then ends without calling its ReplyHandler, as in C, while its future becomes ready
// with JOBS_RESULT_CLOSED. A client with its own connection closes it; on a shared one its
// subscriptions are removed and the connection keeps running.
class Client {
public:
    // `jobs_client_new`: a client with its own connection; settings, callbacks, thing name and
    // jobs QoS from `config`. Does not connect (call connect()) or block on the network.
    static Result<Client> create(const Config &config) {
        if (!config.ok()) return config.error();
        jobs_client *client = nullptr;
        ResultCode rc = jobs_client_new(config.native(), &client);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        auto state = std::make_unique<detail::ClientState>();
        state->connection_callbacks = config.share_callbacks();
        return Client(client, std::move(state));
    }
    // `jobs_client_new_with_connection`: a client for `thing_name` over `shared`, which the
    // caller connects and keeps until every client on it is destroyed. `client_token` (none,
    // or at most 64 bytes) goes in every request; `qos` (0 or 1) is used for jobs traffic.
    // Does not block.
    static Result<Client> create(ConnectionRef shared, StringArg thing_name,
                                 StringArg client_token = {}, unsigned qos = 0) {
        jobs_client *client = nullptr;
        ResultCode rc = jobs_client_new_with_connection(shared.native(), thing_name.c_str(),
                                                        client_token.c_str(), qos, &client);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return Client(client, std::make_unique<detail::ClientState>());
    }

    Client(Client &&other) noexcept
        : client_(std::exchange(other.client_, nullptr)), state_(std::move(other.state_)) {}
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            destroy();
            client_ = std::exchange(other.client_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    ~Client() { destroy(); }

    // The C handle, borrowed, for the C functions not wrapped here (the SDK-style
    // `jobs_create_subscription`, `jobs_send_*`): never free it.
    jobs_client *native() const noexcept { return client_; }
    // `jobs_client_connection`: the client's connection, borrowed: valid until the client is
    // destroyed (for a shared one, as long as that Connection).
    ConnectionRef connection() const noexcept {
        return ConnectionRef(jobs_client_connection(client_));
    }
    // `jobs_client_connect` / `jobs_client_disconnect`: the connection's connect and
    // disconnect. Block.
    Result<void> connect() const { return detail::check(jobs_client_connect(client_)); }
    Result<void> disconnect() const { return detail::check(jobs_client_disconnect(client_)); }

    // `jobs_client_set_event_callback`: the handler for this thing's notify-next
    // (JOBS_TOPIC_TYPE_NOTIFY_NEXT; has_execution() false when no job is left) or notify
    // (JOBS_TOPIC_TYPE_NOTIFY; read pending_jobs()) messages; an empty function removes it.
    // The library makes and keeps the subscription. Does not block.
    Result<void> set_event_callback(TopicType type, JobsMessageHandler handler) {
        if (!state_) return moved_from();
        std::shared_ptr<const JobsMessageHandler> *slot = state_->slot(type);
        jobs_message_handler trampoline = type == JOBS_TOPIC_TYPE_NOTIFY
                                              ? &detail::ClientState::notify
                                              : &detail::ClientState::notify_next;
        if (slot == nullptr) {
            // Another topic type: the library says why it refuses.
            return detail::check(
                jobs_client_set_event_callback(client_, type, trampoline, state_.get()));
        }
        return replace(*slot, std::move(handler), [&](bool set) {
            return jobs_client_set_event_callback(client_, type, set ? trampoline : nullptr,
                                                  state_.get());
        });
    }
    // `jobs_client_set_fallback_callback`: every message on this thing's jobs topics that no
    // subscription matched; an empty function removes it. Does not block.
    Result<void> set_fallback_callback(JobsMessageHandler handler) {
        if (!state_) return moved_from();
        return replace(state_->on_fallback, std::move(handler), [&](bool set) {
            return jobs_client_set_fallback_callback(
                client_, set ? &detail::ClientState::fallback : nullptr, state_.get());
        });
    }

    // GetPendingJobExecutions (`jobs_get_pending[_async]`): the reply lists the pending
    // executions (pending_jobs(JOBS_STATUS_QUEUED), ...). Blocking; safe in a callback.
    Result<Reply> get_pending(const GetPendingArgs &args = {}, Deadline deadline = {}) const {
        jobs_get_pending_args c = args.to_c(deadline);
        jobs_reply *reply = nullptr;
        ResultCode rc = jobs_get_pending(client_, &c, &reply);
        return blocking_outcome(rc, reply);
    }
    // With a completion callback: OK when the request was made (then `on_done` runs exactly
    // once, on the callback thread), or the error (then it never runs). Does not block.
    Result<void> get_pending_async(const GetPendingArgs &args, Deadline deadline,
                                   ReplyHandler on_done) const {
        jobs_get_pending_args c = args.to_c(deadline);
        return start(with_callback(std::move(on_done)), [&](void *request) {
            return jobs_get_pending_async(client_, &c, &detail::ClientState::reply, request);
        });
    }
    Result<void> get_pending_async(const GetPendingArgs &args, ReplyHandler on_done) const {
        return get_pending_async(args, Deadline(), std::move(on_done));
    }
    // With a future: ready with the one outcome (at once if the request could not be made).
    // It is completed on the callback thread, so never wait for it there (inside a callback of
    // this library): use the blocking form in callbacks. Does not block.
    std::future<Result<Reply>> get_pending_async(const GetPendingArgs &args = {},
                                                 Deadline deadline = {}) const {
        jobs_get_pending_args c = args.to_c(deadline);
        return start_future([&](void *request) {
            return jobs_get_pending_async(client_, &c, &detail::ClientState::reply, request);
        });
    }

    // StartNextPendingJobExecution (`jobs_start_next[_async]`): an accepted reply without an
    // execution (has_execution() false) means no job is pending. Forms as get_pending.
    Result<Reply> start_next(const StartNextArgs &args = {}, Deadline deadline = {}) const {
        jobs_start_next_args c = args.to_c(deadline);
        jobs_reply *reply = nullptr;
        ResultCode rc = jobs_start_next(client_, &c, &reply);
        return blocking_outcome(rc, reply);
    }
    Result<void> start_next_async(const StartNextArgs &args, Deadline deadline,
                                  ReplyHandler on_done) const {
        jobs_start_next_args c = args.to_c(deadline);
        return start(with_callback(std::move(on_done)), [&](void *request) {
            return jobs_start_next_async(client_, &c, &detail::ClientState::reply, request);
        });
    }
    Result<void> start_next_async(const StartNextArgs &args, ReplyHandler on_done) const {
        return start_next_async(args, Deadline(), std::move(on_done));
    }
    std::future<Result<Reply>> start_next_async(const StartNextArgs &args = {},
                                                Deadline deadline = {}) const {
        jobs_start_next_args c = args.to_c(deadline);
        return start_future([&](void *request) {
            return jobs_start_next_async(client_, &c, &detail::ClientState::reply, request);
        });
    }

    // DescribeJobExecution (`jobs_describe[_async]`). Forms as get_pending.
    Result<Reply> describe(const DescribeArgs &args, Deadline deadline = {}) const {
        jobs_describe_args c = args.to_c(deadline);
        jobs_reply *reply = nullptr;
        ResultCode rc = jobs_describe(client_, &c, &reply);
        return blocking_outcome(rc, reply);
    }
    Result<void> describe_async(const DescribeArgs &args, Deadline deadline,
                                ReplyHandler on_done) const {
        jobs_describe_args c = args.to_c(deadline);
        return start(with_callback(std::move(on_done)), [&](void *request) {
            return jobs_describe_async(client_, &c, &detail::ClientState::reply, request);
        });
    }
    Result<void> describe_async(const DescribeArgs &args, ReplyHandler on_done) const {
        return describe_async(args, Deadline(), std::move(on_done));
    }
    std::future<Result<Reply>> describe_async(const DescribeArgs &args,
                                              Deadline deadline = {}) const {
        jobs_describe_args c = args.to_c(deadline);
        return start_future([&](void *request) {
            return jobs_describe_async(client_, &c, &detail::ClientState::reply, request);
        });
    }

    // UpdateJobExecution (`jobs_update[_async]`): offline, the update is queued and sent after
    // the reconnect, within its deadline. Forms as get_pending.
    Result<Reply> update(const UpdateArgs &args, Deadline deadline = {}) const {
        jobs_update_args c = args.to_c(deadline);
        jobs_reply *reply = nullptr;
        ResultCode rc = jobs_update(client_, &c, &reply);
        return blocking_outcome(rc, reply);
    }
    Result<void> update_async(const UpdateArgs &args, Deadline deadline,
                              ReplyHandler on_done) const {
        jobs_update_args c = args.to_c(deadline);
        return start(with_callback(std::move(on_done)), [&](void *request) {
            return jobs_update_async(client_, &c, &detail::ClientState::reply, request);
        });
    }
    Result<void> update_async(const UpdateArgs &args, ReplyHandler on_done) const {
        return update_async(args, Deadline(), std::move(on_done));
    }
    std::future<Result<Reply>> update_async(const UpdateArgs &args, Deadline deadline = {}) const {
        jobs_update_args c = args.to_c(deadline);
        return start_future([&](void *request) {
            return jobs_update_async(client_, &c, &detail::ClientState::reply, request);
        });
    }

private:
    Client(jobs_client *client, std::unique_ptr<detail::ClientState> state) noexcept
        : client_(client), state_(std::move(state)) {}

    void destroy() noexcept {
        jobs_client_free(client_);
        client_ = nullptr;
        // Only now: none of the client's callbacks runs any more.
        if (state_) state_->abandon_pending();
        state_.reset();
    }

    static Error moved_from() {
        return Error(JOBS_RESULT_NULL_ARGUMENT, "client is NULL (a moved-from Client)");
    }

    // The outcome of a blocking request: the accepted reply, or the error with the rejected one.
    static Result<Reply> blocking_outcome(ResultCode rc, jobs_reply *reply) {
        if (rc == JOBS_RESULT_OK) {
            if (reply == nullptr) return Error(JOBS_RESULT_INTERNAL, "accepted without a reply");
            return Reply(reply);
        }
        Error error = Error::from_last_error(rc); // first: nothing may overwrite it
        if (reply == nullptr) return error;
        return Error(rc, error.message(), std::make_shared<const Reply>(Reply(reply)));
    }

    // Swaps a message handler into `slot` and tells the library; puts the old one back if the
    // library refuses. `tell(bool set)` makes the C call, with or without the trampoline.
    template <class Tell>
    Result<void> replace(std::shared_ptr<const JobsMessageHandler> &slot,
                         JobsMessageHandler handler, Tell tell) {
        const bool set = static_cast<bool>(handler);
        std::shared_ptr<const JobsMessageHandler> fresh;
        if (set) fresh = std::make_shared<const JobsMessageHandler>(std::move(handler));
        {
            std::lock_guard<std::mutex> hold(state_->lock);
            slot.swap(fresh); // `fresh` is now the old handler
        }
        ResultCode rc = tell(set);
        if (rc == JOBS_RESULT_OK) return {};
        Error error = Error::from_last_error(rc);
        {
            std::lock_guard<std::mutex> hold(state_->lock);
            slot.swap(fresh);
        }
        return error;
    }

    std::unique_ptr<detail::PendingRequest> with_callback(ReplyHandler on_done) const {
        auto request = std::make_unique<detail::PendingRequest>();
        request->on_done = std::move(on_done);
        return request;
    }

    // Registers `request` before the C call (the callback thread may complete it before the
    // call returns) and takes it back if the call fails (then it never completes).
    template <class CStart>
    Result<void> start(std::unique_ptr<detail::PendingRequest> request, CStart c_start) const {
        if (!state_) return moved_from();
        request->client = state_.get();
        detail::PendingRequest *key = request.get();
        state_->add(std::move(request));
        ResultCode rc = c_start(static_cast<void *>(key));
        if (rc == JOBS_RESULT_OK) return {};
        Error error = Error::from_last_error(rc); // before destroying the request's handler
        state_->take(key);
        return error;
    }

    template <class CStart>
    std::future<Result<Reply>> start_future(CStart c_start) const {
        auto promise = std::make_shared<std::promise<Result<Reply>>>();
        std::future<Result<Reply>> future = promise->get_future();
        auto request = std::make_unique<detail::PendingRequest>();
        request->promise = promise;
        Result<void> started = start(std::move(request), c_start);
        if (!started) promise->set_value(started.error());
        return future;
    }

    jobs_client *client_ = nullptr;
    // Behind a pointer: the C side holds its address, which must not move with the Client.
    std::unique_ptr<detail::ClientState> state_;
};

// ---------------------------------------------------------------------------------------------
// The job agent (jobs_agent_*, jobs_job_*)

// A job as its handler sees it: a borrowed view of a `jobs_job`. Calls on it are valid as long
// as its Agent; after its handler returned they fail with JOBS_RESULT_JOB_ENDED (getters give
// empty values). The strings and the document it lends are valid until the handler returns.
class Job {
public:
    explicit Job(jobs_job *job) noexcept : job_(job) {}
    jobs_job *native() const noexcept { return job_; }

    // `jobs_job_id`, `jobs_job_operation`, `jobs_job_document_text`.
    std::string_view id() const noexcept { return detail::view(jobs_job_id(job_)); }
    std::string_view operation() const noexcept { return detail::view(jobs_job_operation(job_)); }
    std::string_view document_text() const noexcept {
        return detail::view(jobs_job_document_text(job_));
    }
    // `jobs_job_document`: the document for path getters; nullopt when it is not JSON.
    std::optional<DocumentView> document() const noexcept {
        const jobs_document *d = jobs_job_document(job_);
        if (d == nullptr) return std::nullopt;
        return DocumentView(d);
    }
    // `jobs_job_execution_number`, `jobs_job_version_number` (0: unknown).
    std::uint64_t execution_number() const noexcept { return jobs_job_execution_number(job_); }
    std::uint64_t version_number() const noexcept { return jobs_job_version_number(job_); }
    // `jobs_job_resumed`: handed back after a restart.
    bool resumed() const noexcept { return jobs_job_resumed(job_); }
    // `jobs_job_is_cancelled`: cancelled, removed or timed out at the service.
    bool cancelled() const noexcept { return jobs_job_is_cancelled(job_); }
    // `jobs_job_saved_checkpoint`: the bytes saved before the restart; nullopt when none.
    std::optional<std::string_view> saved_checkpoint() const noexcept {
        const std::uint8_t *bytes = nullptr;
        std::size_t length = 0;
        if (jobs_job_saved_checkpoint(job_, &bytes, &length) != JOBS_RESULT_OK) {
            return std::nullopt;
        }
        return detail::bytes_view(bytes, length);
    }

    // `jobs_job_progress`: IN_PROGRESS with `status_details` (a JSON object of strings, or
    // none) and, when not zero, a new step timeout. Does not wait for the service.
    Result<void> progress(StringArg status_details = {},
                          std::chrono::minutes step_timeout = std::chrono::minutes(0)) {
        return detail::check(
            jobs_job_progress(job_, status_details.c_str(), step_timeout.count()));
    }
    // `jobs_job_succeed`, `jobs_job_fail`, `jobs_job_reject`: the final status, journaled
    // before they return and sent until acknowledged.
    Result<void> succeed(StringArg status_details = {}) {
        return detail::check(jobs_job_succeed(job_, status_details.c_str()));
    }
    Result<void> fail(StringArg status_details = {}) {
        return detail::check(jobs_job_fail(job_, status_details.c_str()));
    }
    Result<void> reject(StringArg status_details = {}) {
        return detail::check(jobs_job_reject(job_, status_details.c_str()));
    }
    // `jobs_job_checkpoint`: at most 4096 bytes, written to the journal before it returns.
    Result<void> checkpoint(std::string_view bytes) {
        return detail::check(jobs_job_checkpoint(job_, bytes.data(), bytes.size()));
    }

private:
    jobs_job *job_;
};

// An agent event (`jobs_agent_event`); its strings are borrowed until the callback returns.
struct AgentEvent {
    AgentEventKind kind;
    std::string_view job_id;  // empty when the event concerns no job
    std::uint64_t execution_number;
    Status status;
    std::string_view reason;
};

// The agent's settings (`jobs_agent_config`); the defaults are `jobs_agent_config_init`'s.
struct AgentOptions {
    // The journal file; nullopt: memory only (nothing survives a restart).
    std::optional<std::string> journal_path;
    // The document path naming the operation; nullopt: "operation".
    std::optional<std::string> operation_path;
    // `stepTimeoutInMinutes` sent with start-next; 0: none.
    std::chrono::minutes step_timeout{0};
    // The shortest time between two progress updates; 0: no limit.
    std::chrono::milliseconds progress_interval{0};
    // Each request's deadline and the retry backoff; 0: the library's default.
    std::chrono::milliseconds request_timeout{0};
    std::chrono::milliseconds backoff_base{0};
    std::chrono::milliseconds backoff_max{0};
    // Agent events, on the callback thread; may be empty.
    std::function<void(const AgentEvent &)> on_event;
};

// What a handler registration holds.
struct JobHandler {
    // Runs the job on the agent's worker thread; may block for the whole job. Returning
    // without succeed/fail/reject ends the job FAILED with a reason. With exceptions enabled,
    // an exception leaving it fails the job with its what() as the reason.
    std::function<void(Job &)> run;
    // Told of a cancellation on the callback thread; must not block. May be empty.
    std::function<void(Job &)> on_cancel;
    ResumePolicy resume = JOBS_RESUME_POLICY_RESUME;
};

namespace detail {

// `{"reason":"<text>"}` with the text escaped as a JSON string.
inline std::string reason_json(std::string_view text) {
    std::string out = "{\"reason\":\"";
    for (char c : text.substr(0, 900)) {
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
            out += escaped;
        } else {
            out += c;
        }
    }
    out += "\"}";
    return out;
}

struct AgentState {
    std::function<void(const AgentEvent &)> on_event;
    // Stable addresses: the C side holds a pointer to each.
    std::vector<std::unique_ptr<JobHandler>> handlers;

    static void event_trampoline(void *user_data, const jobs_agent_event *e) {
        auto *state = static_cast<AgentState *>(user_data);
        if (!state->on_event) return;
        AgentEvent event{static_cast<AgentEventKind>(e->kind), view(e->job_id),
                         e->execution_number, static_cast<Status>(e->status), view(e->reason)};
        state->on_event(event);
    }
    static void run_trampoline(void *user_data, jobs_job *job) {
        auto *handler = static_cast<JobHandler *>(user_data);
        Job view_of_job(job);
#if IOTJOBS_HPP_EXCEPTIONS
        try {
            handler->run(view_of_job);
        } catch (const std::exception &e) {
            (void)jobs_job_fail(job, reason_json(std::string("the handler threw: ") + e.what())
                                         .c_str());
        } catch (...) {
            (void)jobs_job_fail(job, reason_json("the handler threw").c_str());
        }
#else
        handler->run(view_of_job);
#endif
    }
    static void cancel_trampoline(void *user_data, jobs_job *job) {
        auto *handler = static_cast<JobHandler *>(user_data);
        Job view_of_job(job);
        if (handler->on_cancel) handler->on_cancel(view_of_job);
    }
};

} // namespace detail

// The job agent (`jobs_agent_*`): runs each job of a client's thing through the handler of
// its operation to one final status, once, across disconnects, cancellations and restarts.
// Owning and move-only; the destructor is `jobs_agent_free` (which waits for a running
// handler to return), after which the handlers are destroyed. The Client must outlive it.
class Agent {
public:
    // `jobs_agent_new` for `client`'s thing and connection. Does not block.
    static Result<Agent> create(const Client &client, AgentOptions options = {}) {
        jobs_agent_config cfg;
        ResultCode rc = jobs_agent_config_init(&cfg);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        cfg.journal_path = options.journal_path ? options.journal_path->c_str() : nullptr;
        cfg.operation_path = options.operation_path ? options.operation_path->c_str() : nullptr;
        cfg.step_timeout_minutes = options.step_timeout.count();
        cfg.progress_interval_ms = detail::to_c_milliseconds(options.progress_interval);
        if (options.request_timeout.count() > 0) {
            cfg.request_timeout_ms = detail::to_c_milliseconds(options.request_timeout);
        }
        if (options.backoff_base.count() > 0) {
            cfg.backoff_base_ms = detail::to_c_milliseconds(options.backoff_base);
        }
        if (options.backoff_max.count() > 0) {
            cfg.backoff_max_ms = detail::to_c_milliseconds(options.backoff_max);
        }
        auto state = std::make_unique<detail::AgentState>();
        state->on_event = std::move(options.on_event);
        if (state->on_event) {
            cfg.on_event = &detail::AgentState::event_trampoline;
            cfg.user_data = state.get();
        }
        jobs_agent *agent = nullptr;
        rc = jobs_agent_new(client.native(), &cfg, &agent);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return Agent(agent, std::move(state));
    }

    Agent(Agent &&other) noexcept
        : agent_(std::exchange(other.agent_, nullptr)), state_(std::move(other.state_)) {}
    Agent &operator=(Agent &&other) noexcept {
        if (this != &other) {
            destroy();
            agent_ = std::exchange(other.agent_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    Agent(const Agent &) = delete;
    Agent &operator=(const Agent &) = delete;
    ~Agent() { destroy(); }

    jobs_agent *native() const noexcept { return agent_; }

    // `jobs_agent_set_handler` for `operation`. Refused while the agent runs and for an
    // operation that already has a handler (JOBS_RESULT_INVALID_STATE).
    Result<void> handle(StringArg operation, JobHandler handler) {
        return add(operation.c_str(), std::move(handler));
    }
    // The default handler of every operation without its own.
    Result<void> handle_others(JobHandler handler) { return add(nullptr, std::move(handler)); }

    // `jobs_agent_start`. Does not block on the network.
    Result<void> start() { return detail::check(jobs_agent_start(agent_)); }
    // `jobs_agent_stop`: waits up to `wait` for the job under way; JOBS_RESULT_TIMEOUT says
    // one is left in the journal for the next start. Blocks until a running handler returned.
    template <class Rep, class Period>
    Result<void> stop(std::chrono::duration<Rep, Period> wait) {
        return detail::check(jobs_agent_stop(agent_, detail::to_c_milliseconds(wait)));
    }
    Result<void> stop() { return detail::check(jobs_agent_stop(agent_, 0)); }

    // `jobs_agent_get_counters`.
    Result<jobs_agent_counters> counters() const {
        jobs_agent_counters c{};
        c.struct_size = sizeof c;
        ResultCode rc = jobs_agent_get_counters(agent_, &c);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        return c;
    }

private:
    Agent(jobs_agent *agent, std::unique_ptr<detail::AgentState> state) noexcept
        : agent_(agent), state_(std::move(state)) {}

    Result<void> add(const char *operation, JobHandler handler) {
        if (state_ == nullptr) return Error(JOBS_RESULT_NULL_ARGUMENT, "a moved-from Agent");
        if (!handler.run) return Error(JOBS_RESULT_NULL_ARGUMENT, "the handler has no run");
        auto owned = std::make_unique<JobHandler>(std::move(handler));
        jobs_agent_handler h;
        ResultCode rc = jobs_agent_handler_init(&h);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        h.run = &detail::AgentState::run_trampoline;
        h.on_cancel = owned->on_cancel ? &detail::AgentState::cancel_trampoline : nullptr;
        h.resume = owned->resume;
        h.user_data = owned.get();
        rc = jobs_agent_set_handler(agent_, operation, &h);
        if (rc != JOBS_RESULT_OK) return Error::from_last_error(rc);
        state_->handlers.push_back(std::move(owned));
        return {};
    }

    void destroy() noexcept {
        if (agent_ != nullptr) jobs_agent_free(std::exchange(agent_, nullptr));
        state_.reset(); // after the free: no callback can reach it any more
    }

    jobs_agent *agent_ = nullptr;
    std::unique_ptr<detail::AgentState> state_;
};

} // namespace iotjobs

#endif // IOTJOBS_HPP
