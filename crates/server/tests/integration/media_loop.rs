//! Hardening of the media loops (issue 13): a loop that panics restarts with
//! a fresh core and tells its sessions, and rooms keep working.

use salon::protocol::{ErrorCode, ServerMsg};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_loop_that_panics_restarts_and_tells_its_sessions() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "Ana", true, true).await;
    let b = TestClient::join(&server, &room, "Ben", true, true).await;
    eventually(20, "Ben receives Ana", || b.received_from(&a).video_frames > 10).await;

    server
        .salon
        .as_ref()
        .expect("running")
        .crash_media_loops_for_tests()
        .await;

    // Their peers were in the loop that crashed: both sessions are told.
    for c in [&a, &b] {
        eventually(10, "media_failed after the restart", || {
            c.saw(|m| {
                matches!(
                    m,
                    ServerMsg::Error {
                        code: ErrorCode::MediaFailed,
                        ..
                    }
                )
            })
        })
        .await;
    }
    // The loop serves again: the same room takes new participants, with media.
    let c = TestClient::join(&server, &room, "Cléo", true, true).await;
    let d = TestClient::join(&server, &room, "Dan", true, true).await;
    eventually(20, "Dan receives Cléo after the restart", || {
        d.received_from(&c).video_frames > 10
    })
    .await;
    eventually(20, "Cléo receives Dan after the restart", || {
        c.received_from(&d).video_frames > 10
    })
    .await;
}
