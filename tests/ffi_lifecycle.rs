//! Handle lifetimes through the real `extern "C"` functions: freeing a connection or a jobs
//! client from inside its own callback, and no callback (nor user-data access) after `*_free`
//! returns when freed from another thread.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::message::jobs_message;
use iotjobs_emulator::{Emulator, EmulatorConfig};
use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::Duration;

fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default()).unwrap()
}

unsafe fn plain_config(emu: &Emulator, client_id: &str) -> *mut jobs_config {
    support::c_api::tcp_config(emu.mqtt_addr().port(), client_id)
}

type MessageCallback = unsafe extern "C" fn(*mut c_void, *const c_char, usize, *const u8, usize);

/// A connected plain-TCP connection whose `on_message` gets `user_data`, subscribed to `filter`.
unsafe fn connected(
    emu: &Emulator,
    client_id: &str,
    on_message: MessageCallback,
    user_data: *mut c_void,
    filter: &str,
) -> *mut jobs_connection {
    let cfg = plain_config(emu, client_id);
    jobs_config_set_on_message(cfg, Some(on_message));
    jobs_config_set_user_data(cfg, user_data);
    let mut conn = ptr::null_mut();
    assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::Ok);
    jobs_config_free(cfg);
    assert_eq!(jobs_connection_connect(conn), jobs_result::Ok);
    let filter = CString::new(filter).unwrap();
    assert_eq!(
        jobs_connection_subscribe(
            conn,
            filter.as_ptr(),
            0,
            None,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut()
        ),
        jobs_result::Ok
    );
    conn
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    support::c_api::wait_for(what, Duration::from_secs(20), f);
}

/// User data of the connection tests: the handle to free and a call counter.
struct State {
    conn: AtomicPtr<jobs_connection>,
    calls: AtomicUsize,
}

impl State {
    /// Boxed, so its address (the callbacks' user data) stays put.
    fn new() -> Box<State> {
        Box::new(State {
            conn: AtomicPtr::new(ptr::null_mut()),
            calls: AtomicUsize::new(0),
        })
    }
}

unsafe extern "C" fn free_self_on_message(
    ud: *mut c_void,
    _topic: *const c_char,
    _topic_len: usize,
    _payload: *const u8,
    _payload_len: usize,
) {
    let st = &*(ud as *const State);
    st.calls.fetch_add(1, Ordering::SeqCst);
    let conn = st.conn.swap(ptr::null_mut(), Ordering::SeqCst);
    jobs_connection_free(conn); // inside our own callback: must not deadlock
}

#[test]
fn a_connection_freed_inside_its_own_callback_runs_no_further_callback() {
    let emu = emulator();
    let st = State::new();
    unsafe {
        let ud = &*st as *const State as *mut c_void;
        let conn = connected(&emu, "free-in-cb", free_self_on_message, ud, "f/#");
        st.conn.store(conn, Ordering::SeqCst);
        for i in 0..50u8 {
            emu.publish("f/x", &[i], 0);
        }
    }
    wait_until("the first callback", || {
        st.calls.load(Ordering::SeqCst) >= 1
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(st.calls.load(Ordering::SeqCst), 1);
    assert!(st.conn.load(Ordering::SeqCst).is_null());
    wait_until("the server to see the client leave", || {
        !emu.connected_clients().iter().any(|c| c == "free-in-cb")
    });
}

unsafe extern "C" fn slow_counter(
    ud: *mut c_void,
    _topic: *const c_char,
    _topic_len: usize,
    _payload: *const u8,
    _payload_len: usize,
) {
    let st = &*(ud as *const State);
    std::thread::sleep(Duration::from_millis(3));
    st.calls.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn after_free_returns_no_callback_runs_and_user_data_is_untouched() {
    let emu = emulator();
    let st = State::new();
    unsafe {
        let ud = &*st as *const State as *mut c_void;
        let conn = connected(&emu, "free-outside", slow_counter, ud, "g");
        for i in 0..200u8 {
            emu.publish("g", &[i], 0);
        }
        wait_until("callbacks to flow", || st.calls.load(Ordering::SeqCst) >= 3);
        jobs_connection_free(conn);
    }
    let at_free = st.calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(st.calls.load(Ordering::SeqCst), at_free);
    drop(st); // the user data is gone; a late callback would now be a use-after-free
    std::thread::sleep(Duration::from_millis(100));
}

struct JobsState {
    client: AtomicPtr<jobs_client>,
    calls: AtomicUsize,
}

unsafe extern "C" fn free_client_on_notify(ud: *mut c_void, _m: *const jobs_message) {
    let st = &*(ud as *const JobsState);
    st.calls.fetch_add(1, Ordering::SeqCst);
    jobs_client_free(st.client.swap(ptr::null_mut(), Ordering::SeqCst));
}

#[test]
fn a_jobs_client_on_a_shared_connection_freed_in_its_callback_leaves_the_connection_up() {
    let emu = emulator();
    let st = Box::new(JobsState {
        client: AtomicPtr::new(ptr::null_mut()),
        calls: AtomicUsize::new(0),
    });
    unsafe {
        let cfg = plain_config(&emu, "gw");
        let mut conn = ptr::null_mut();
        assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::Ok);
        jobs_config_free(cfg);
        assert_eq!(jobs_connection_connect(conn), jobs_result::Ok);
        let thing = CString::new("thing-a").unwrap();
        let token = CString::new("tok").unwrap();
        let mut client = ptr::null_mut();
        assert_eq!(
            jobs_client_new_with_connection(conn, thing.as_ptr(), token.as_ptr(), 1, &mut client),
            jobs_result::Ok
        );
        st.client.store(client, Ordering::SeqCst);
        assert_eq!(
            jobs_create_subscription(
                client,
                jobs_topic_type::NotifyNext as u32,
                jobs_reply_type::Request as u32,
                ptr::null(),
                Some(free_client_on_notify),
                &*st as *const JobsState as *mut c_void,
                ptr::null_mut()
            ),
            jobs_result::Ok
        );
        for _ in 0..10 {
            emu.publish(
                "$aws/things/thing-a/jobs/notify-next",
                b"{\"timestamp\":1}",
                1,
            );
        }
        wait_until("the notify callback", || {
            st.calls.load(Ordering::SeqCst) >= 1
        });
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(st.calls.load(Ordering::SeqCst), 1);
        // The shared connection is still usable.
        assert_eq!(
            jobs_connection_get_state(conn),
            jobs_connection_state::Online as u32
        );
        let topic = CString::new("still/up").unwrap();
        assert_eq!(
            jobs_connection_publish(
                conn,
                topic.as_ptr(),
                b"x".as_ptr(),
                1,
                1,
                false,
                ptr::null_mut()
            ),
            jobs_result::Ok
        );
        jobs_connection_free(conn);
    }
}
