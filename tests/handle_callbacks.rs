//! Callbacks belong to their handle, through the real `extern "C"` functions: an asynchronous
//! request's ack goes through the gate of the handle it was made on, so it never runs after that
//! handle's `*_free`; a jobs client whose shared connection was freed reads CLOSED and its
//! pending requests complete with `JOBS_RESULT_CLOSED`.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::ffi::config::*;
use iotjobs::ffi::connection::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::message::jobs_message;
use iotjobs_emulator::{Emulator, EmulatorConfig};
use std::ffi::{c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

unsafe fn connected(emu: &Emulator, client_id: &str) -> *mut jobs_connection {
    let cfg = support::c_api::tcp_config(emu.mqtt_addr().port(), client_id);
    let mut conn = ptr::null_mut();
    assert_eq!(jobs_connection_new(cfg, &mut conn), jobs_result::Ok);
    jobs_config_free(cfg);
    assert_eq!(jobs_connection_connect(conn), jobs_result::Ok);
    conn
}

unsafe fn client_on(conn: *mut jobs_connection, thing: &str) -> *mut jobs_client {
    let thing = CString::new(thing).unwrap();
    let mut c = ptr::null_mut();
    assert_eq!(
        jobs_client_new_with_connection(conn, thing.as_ptr(), ptr::null(), 1, &mut c),
        jobs_result::Ok
    );
    c
}

/// What the ack callback saw: how many times it ran and the last result.
#[derive(Default)]
struct Acks {
    calls: AtomicUsize,
    last: AtomicU32,
}

unsafe extern "C" fn on_ack(ud: *mut c_void, _packet_id: u16, result: jobs_result, _qos: u8) {
    let acks = &*(ud as *const Acks);
    acks.last.store(result as u32, Ordering::SeqCst);
    acks.calls.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn on_message(_ud: *mut c_void, _m: *const jobs_message) {}

unsafe fn subscribe_async(c: *mut jobs_client, acks: &Acks) {
    assert_eq!(
        jobs_create_subscription_async(
            c,
            jobs_topic_type::NotifyNext as u32,
            jobs_reply_type::Request as u32,
            ptr::null(),
            Some(on_message),
            ptr::null_mut(),
            Some(on_ack),
            acks as *const Acks as *mut c_void,
            ptr::null_mut(),
            ptr::null_mut(),
        ),
        jobs_result::Ok
    );
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    support::c_api::wait_for(what, Duration::from_secs(20), f);
}

#[test]
fn an_async_subscribe_ack_never_runs_after_its_client_is_freed() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    unsafe {
        let conn = connected(&emu, "gate-free");
        // The SUBACK comes well after the client is gone.
        emu.set_reply_delay(Duration::from_millis(300));
        let acks = Box::new(Acks::default());
        let c = client_on(conn, "t");
        subscribe_async(c, &acks);
        jobs_client_free(c);
        // The SUBACK arrives and completes the request; nothing may call back.
        let observer = Box::new(Acks::default());
        let other = client_on(conn, "u");
        subscribe_async(other, &observer);
        wait_until("the later subscription's ack", || {
            observer.calls.load(Ordering::SeqCst) == 1
        });
        assert_eq!(
            acks.calls.load(Ordering::SeqCst),
            0,
            "the freed client's ack ran after jobs_client_free"
        );
        jobs_client_free(other);
        jobs_connection_free(conn);
        assert_eq!(acks.calls.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn a_client_on_a_freed_connection_reads_closed_and_its_pending_request_completes_closed() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    unsafe {
        let conn = connected(&emu, "gate-closed");
        let c = client_on(conn, "t");
        assert_eq!(
            jobs_connection_get_state(jobs_client_connection(c)),
            jobs_connection_state::Online as u32
        );
        emu.set_reply_delay(Duration::from_secs(2));
        let acks = Box::new(Acks::default());
        subscribe_async(c, &acks);
        jobs_connection_free(conn);
        // At once, not when the background task gets round to it.
        assert_eq!(
            jobs_connection_get_state(jobs_client_connection(c)),
            jobs_connection_state::Closed as u32
        );
        wait_until("the pending ack", || acks.calls.load(Ordering::SeqCst) == 1);
        assert_eq!(acks.last.load(Ordering::SeqCst), jobs_result::Closed as u32);
        let topic = CString::new("x").unwrap();
        assert_eq!(
            jobs_connection_publish(
                jobs_client_connection(c),
                topic.as_ptr(),
                ptr::null(),
                0,
                0,
                false,
                ptr::null_mut()
            ),
            jobs_result::Closed
        );
        jobs_client_free(c);
        assert_eq!(acks.calls.load(Ordering::SeqCst), 1, "exactly once");
    }
}
