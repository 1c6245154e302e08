// The harness of the C++ wrapper's tests: the C tests' harness (tests/c/check.h: CHECK, the
// `CHECKS passed=N failed=M` line the runners read, test_now, test_sleep_ms) plus checks of
// iotjobs::Result and a bounded wait.
//
//   CHECK_OK(result)            the Result holds a value (else its error is printed);
//   CHECK_ERROR(result, code)   the Result failed with exactly that code and a message.
#ifndef IOTJOBS_TEST_CHECK_HPP
#define IOTJOBS_TEST_CHECK_HPP

#include <functional>
#include <string>

#include "check.h"
#include "iotjobs.hpp"

template <class T>
inline bool test_check_ok(const iotjobs::Result<T> &result, const char *file, int line,
                          const char *what) {
    bool ok = test_record_check(result.ok(), file, line, what);
    if (!ok) {
        printf("    failed: %s\n", result.error().to_string().c_str());
        fflush(stdout);
    }
    return ok;
}

template <class T>
inline bool test_check_error(const iotjobs::Result<T> &result, iotjobs::ResultCode want,
                             const char *file, int line, const char *what) {
    bool ok = !result.ok() && result.error().code() == want && !result.error().message().empty();
    if (!test_record_check(ok, file, line, what)) {
        if (result.ok()) {
            printf("    succeeded, expected %s\n", jobs_result_str(want));
        } else {
            printf("    failed with %s, expected %s\n", result.error().to_string().c_str(),
                   jobs_result_str(want));
        }
        fflush(stdout);
    }
    return ok;
}

#define CHECK_OK(result) test_check_ok((result), __FILE__, __LINE__, #result)
#define CHECK_ERROR(result, code) test_check_error((result), (code), __FILE__, __LINE__, #result)

// Polls `done` every 5 ms for at most `timeout_s` seconds; true once it holds.
inline bool test_wait_until(const std::function<bool()> &done, double timeout_s) {
    double end = test_now() + timeout_s;
    while (!done()) {
        if (test_now() > end) return done();
        test_sleep_ms(5);
    }
    return true;
}

#endif // IOTJOBS_TEST_CHECK_HPP
