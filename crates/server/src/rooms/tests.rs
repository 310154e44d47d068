use super::*;
use crate::protocol::ClientMsg;

fn person(id: &str) -> Participant {
    Participant {
        id: id.into(),
        name: id.into(),
        audio: false,
        video: true,
        role: Role::Guest,
        hand: false,
        screen: false,
        avatar: None,
        username: None,
        reconnecting: false,
    }
}

struct Who {
    rx: Outbox,
}

impl Who {
    /// Every message received so far.
    fn drain(&mut self) -> Vec<ServerMsg> {
        std::iter::from_fn(|| match self.rx.try_next() {
            Some(outbox::Next::Msg(m)) => Some(m),
            _ => None,
        })
        .collect()
    }
}

/// A guest `id` on its own browser (`dev-<id>`), and its message queue.
fn entrant(id: &str) -> (Entrant, Who) {
    let tx = Outbox::new();
    let rx = tx.clone();
    let who = Entrant {
        info: person(id),
        device: format!("dev-{id}"),
        host: false,
        invited: false,
        account: None,
        blockers: Default::default(),
        peer: PeerId(id.bytes().map(u64::from).sum()),
        outbox: tx,
    };
    (who, Who { rx })
}

/// Enters `who` into room "r", announcing it when it gets in.
fn enter_as(rooms: &Rooms, settings: Settings, who: Entrant) -> Result<Entry, EnterError> {
    let id = who.info.id.clone();
    let r = rooms.enter("r", settings, who);
    if matches!(r, Ok(Entry::In(_))) {
        rooms.announce("r", &id);
    }
    r
}

fn enter(rooms: &Rooms, settings: Settings, id: &str, host: bool) -> (Result<Entry, EnterError>, Who) {
    let (mut who, rx) = entrant(id);
    who.host = host;
    (enter_as(rooms, settings, who), rx)
}

fn inside(rooms: &Rooms, settings: Settings, id: &str, host: bool) -> Who {
    let (r, who) = enter(rooms, settings, id, host);
    assert!(matches!(r, Ok(Entry::In(_))), "{id} gets in");
    who
}

#[test]
fn capacity_and_presence() {
    let rooms = Rooms::new(2);
    let s = Settings::default();
    let mut a = inside(&rooms, s, "a", false);
    a.drain(); // its own catch-up (controls)
    let (b, _b) = entrant("b");
    let Ok(Entry::In(e)) = rooms.enter("r", s, b) else {
        panic!("b enters")
    };
    assert_eq!(e.others.len(), 1);
    assert!(a.drain().is_empty(), "b is not announced yet");
    let (c, _) = enter(&rooms, s, "c", false);
    assert_eq!(c.err(), Some(EnterError::Full));
    rooms.announce("r", "b");
    assert!(matches!(&a.drain()[..], [ServerMsg::ParticipantJoined { participant }] if participant.id == "b"));
    rooms.set_state("r", "b", true, false, false).unwrap();
    assert!(matches!(&a.drain()[..], [ServerMsg::ParticipantUpdated { participant }] if participant.audio));
    rooms.leave("r", "b");
    assert_eq!(a.drain(), vec![ServerMsg::ParticipantLeft { id: "b".into() }]);
    let _c = inside(&rooms, s, "c", false);
    rooms.leave("r", "a");
    rooms.leave("r", "c");
    assert_eq!(rooms.count("r"), 0);
}

/// Every host command, sent by a guest, is refused and changes nothing.
#[test]
fn guests_cannot_use_host_commands() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let mut host = inside(&rooms, s, "h", true);
    let mut g = inside(&rooms, s, "g", false);
    let _other = inside(&rooms, s, "o", false);
    host.drain();
    g.drain();
    let cmds = [
        ClientMsg::Lock { locked: true },
        ClientMsg::Remove {
            id: "o".into(),
            ban: true,
        },
        ClientMsg::EndRoom {},
        ClientMsg::Admit { id: "x".into() },
        ClientMsg::Deny { id: "x".into() },
        ClientMsg::AdmitAll {},
        ClientMsg::Mute { id: "o".into() },
        ClientMsg::MuteAll {},
        ClientMsg::AllowUnmute { id: "o".into() },
        ClientMsg::AskVideo { id: "o".into() },
        ClientMsg::Spotlight { id: Some("g".into()) },
        ClientMsg::Cohost {
            id: "g".into(),
            on: true,
        },
        ClientMsg::Policy {
            waiting_room: true,
            mute_on_entry: true,
            self_unmute: false,
        },
        ClientMsg::LowerHand { id: "o".into() },
        ClientMsg::LowerAllHands {},
    ];
    for cmd in &cmds {
        let r = rooms.command("r", "g", cmd);
        assert_eq!(r.map_err(|e| e.code), Err(ErrorCode::Forbidden), "{cmd:?}");
    }
    assert!(host.drain().is_empty(), "nothing happened");
    assert!(g.drain().is_empty());
    assert_eq!(rooms.count("r"), 3);
    let (late, _) = enter(&rooms, s, "late", false);
    assert!(matches!(late, Ok(Entry::In(_))), "not locked");
}

#[test]
fn remove_lock_and_end() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let _host = inside(&rooms, s, "h", true);
    let mut g = inside(&rooms, s, "g", false);
    let fx = rooms
        .command(
            "r",
            "h",
            &ClientMsg::Remove {
                id: "g".into(),
                ban: true,
            },
        )
        .unwrap();
    assert_eq!(
        fx.ban,
        Some(Ban {
            device: "dev-g".into(),
            account: None,
            name: "g".into()
        })
    );
    assert!(g.drain().contains(&ServerMsg::Removed { banned: true }));
    let (again, _) = enter(&rooms, s, "g", false);
    assert_eq!(again.err(), Some(EnterError::Removed), "cannot come back this session");
    assert_eq!(
        rooms
            .command(
                "r",
                "h",
                &ClientMsg::Remove {
                    id: "h".into(),
                    ban: false
                }
            )
            .map_err(|e| e.code),
        Err(ErrorCode::Forbidden),
        "the host cannot be removed"
    );
    rooms.command("r", "h", &ClientMsg::Lock { locked: true }).unwrap();
    let (locked, _) = enter(&rooms, s, "n", false);
    assert_eq!(locked.err(), Some(EnterError::Locked));
    let _host2 = inside(&rooms, s, "h2", true);
    let mut p = inside(&rooms, Settings::default(), "p", true);
    rooms.command("r", "h", &ClientMsg::EndRoom {}).unwrap();
    assert!(p.drain().contains(&ServerMsg::Ended {}));
    assert_eq!(rooms.count("r"), 0, "everyone is out");
}

#[test]
fn waiting_room_admit_and_deny() {
    let rooms = Rooms::new(10);
    let s = Settings {
        waiting_room: true,
        ..Settings::default()
    };
    let (w, mut wait) = enter(&rooms, s, "w", false);
    assert!(matches!(w, Ok(Entry::Waiting)), "nobody is let in without a host");
    let (r, mut host) = enter(&rooms, s, "h", true);
    assert!(matches!(r, Ok(Entry::In(_))), "host enters");
    assert!(
        host.drain()
            .iter()
            .any(|m| matches!(m, ServerMsg::Lobby { waiting } if waiting.len() == 1)),
        "the host sees who waits"
    );
    let (_, mut x) = enter(&rooms, s, "x", false);
    assert!(host
        .drain()
        .iter()
        .any(|m| matches!(m, ServerMsg::Lobby { waiting } if waiting.len() == 2)));
    rooms.command("r", "h", &ClientMsg::Admit { id: "w".into() }).unwrap();
    assert_eq!(wait.drain(), vec![ServerMsg::Admitted {}]);
    rooms.leave("r", "w");
    let (back, _) = enter(&rooms, s, "w", false);
    assert!(matches!(back, Ok(Entry::In(_))), "admitted devices come straight in");
    rooms.command("r", "h", &ClientMsg::Deny { id: "x".into() }).unwrap();
    assert_eq!(x.drain(), vec![ServerMsg::Denied {}]);
    let (again, _) = enter(&rooms, s, "x", false);
    assert_eq!(again.err(), Some(EnterError::Denied), "no knocking again at once");
    assert_eq!(rooms.count("r"), 2);
}

#[test]
fn mute_all_and_the_unmute_policy() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let _host = inside(&rooms, s, "h", true);
    let mut g = inside(&rooms, s, "g", false);
    rooms.set_state("r", "g", true, true, false).unwrap();
    rooms
        .command(
            "r",
            "h",
            &ClientMsg::Policy {
                waiting_room: false,
                mute_on_entry: true,
                self_unmute: false,
            },
        )
        .unwrap();
    let fx = rooms.command("r", "h", &ClientMsg::MuteAll {}).unwrap();
    assert_eq!(fx.mutes, vec![(PeerId(u64::from(b'g')), true)], "the host is not muted");
    assert!(g.drain().contains(&ServerMsg::Muted {}));
    let refused = rooms.set_state("r", "g", true, true, false);
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::Forbidden));
    rooms.command("r", "g", &ClientMsg::Hand { raised: true }).unwrap();
    rooms
        .command("r", "h", &ClientMsg::AllowUnmute { id: "g".into() })
        .unwrap();
    assert!(
        matches!(rooms.set_state("r", "g", true, true, false), Ok(Some(_))),
        "allowed: audio flows again"
    );
    let (r, _) = enter(&rooms, s, "late", false);
    let Ok(Entry::In(e)) = r else { panic!() };
    assert!(e.audio_muted, "muted on entry");
}

#[test]
fn lower_all_hands() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let mut host = inside(&rooms, s, "h", true);
    let _a = inside(&rooms, s, "a", false);
    let _b = inside(&rooms, s, "b", false);
    for id in ["a", "b"] {
        rooms.command("r", id, &ClientMsg::Hand { raised: true }).unwrap();
    }
    host.drain();
    rooms.command("r", "h", &ClientMsg::LowerAllHands {}).unwrap();
    let got = host.drain();
    assert!(got.contains(&ServerMsg::Hands { ids: vec![] }), "{got:?}");
    let lowered = got
        .iter()
        .filter(|m| matches!(m, ServerMsg::ParticipantUpdated { participant } if !participant.hand))
        .count();
    assert_eq!(lowered, 2, "both hands shown down: {got:?}");
}

#[test]
fn usernames_only_between_friends_and_blocks_keep_out() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let acct = |id: &str, friends: &[&str]| MemberAccount {
        id: id.into(),
        friends: friends.iter().map(|f| f.to_string()).collect(),
    };
    let mut feed = rooms.subscribe();
    let join = |id: &str, account: Option<MemberAccount>, blockers: &[&str]| {
        let (mut who, rx) = entrant(id);
        who.info.username = account.as_ref().map(|_| format!("user-{id}"));
        who.account = account;
        who.blockers = blockers.iter().map(|b| b.to_string()).collect();
        (enter_as(&rooms, s, who), rx)
    };
    let (_, mut a) = join("a", Some(acct("A", &["B"])), &[]);
    assert_eq!(feed.try_recv().unwrap(), "r");
    let (b, _b) = join("b", Some(acct("B", &["A"])), &[]);
    let Ok(Entry::In(e)) = b else { panic!("b enters") };
    assert_eq!(
        e.others[0].username.as_deref(),
        Some("user-a"),
        "friends see the username"
    );
    assert_eq!(e.you.role, Role::Participant, "signed in");
    assert!(a.drain().iter().any(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.username.as_deref() == Some("user-b"))));
    // A guest sees names only, in the list and in updates.
    let (c, mut c_rx) = join("c", None, &[]);
    let Ok(Entry::In(e)) = c else { panic!("c enters") };
    assert!(e.others.iter().all(|p| p.username.is_none()));
    rooms.set_state("r", "a", true, true, false).unwrap();
    assert!(c_rx
        .drain()
        .iter()
        .all(|m| !matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.username.is_some())));
    // Someone A blocked cannot come in.
    let (d, _) = join("d", Some(acct("D", &[])), &["A"]);
    assert_eq!(d.err(), Some(EnterError::Blocked));
    assert_eq!(rooms.members("r").len(), 3);
    assert_eq!(rooms.members("r")[0].account.as_deref(), Some("A"));
}

/// Removal and co-host belong to the person (their browser), not one tab.
#[test]
fn removal_and_cohost_cover_every_tab_of_a_browser() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let _host = inside(&rooms, s, "h", true);
    let tab = |id: &str| {
        let (mut who, rx) = entrant(id);
        who.device = "dev-same".into();
        assert!(matches!(enter_as(&rooms, s, who), Ok(Entry::In(_))));
        rx
    };
    let mut t1 = tab("t1");
    let mut t2 = tab("t2");
    rooms
        .command(
            "r",
            "h",
            &ClientMsg::Cohost {
                id: "t1".into(),
                on: true,
            },
        )
        .unwrap();
    let both_cohost = rooms.command("r", "t2", &ClientMsg::Lock { locked: false });
    assert!(both_cohost.is_ok(), "the other tab is co-host too");
    rooms
        .command(
            "r",
            "h",
            &ClientMsg::Cohost {
                id: "t1".into(),
                on: false,
            },
        )
        .unwrap();
    let refused = rooms.command("r", "t2", &ClientMsg::Lock { locked: true });
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::Forbidden), "and no longer");
    let fx = rooms
        .command(
            "r",
            "h",
            &ClientMsg::Remove {
                id: "t1".into(),
                ban: false,
            },
        )
        .unwrap();
    assert_eq!(fx.kicked.len(), 2, "both tabs leave the media core");
    assert!(t1.drain().contains(&ServerMsg::Removed { banned: false }));
    assert!(t2.drain().contains(&ServerMsg::Removed { banned: false }));
    assert_eq!(rooms.count("r"), 1);
}

/// Two people entering at the same moment both learn of each other, and a
/// newcomer hears of what changed while it was setting up.
#[test]
fn simultaneous_joins_see_each_other() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let _c = inside(&rooms, s, "c", false);
    let (a, mut a_rx) = entrant("a");
    let (b, mut b_rx) = entrant("b");
    assert!(matches!(rooms.enter("r", s, a), Ok(Entry::In(_))));
    assert!(matches!(rooms.enter("r", s, b), Ok(Entry::In(_))));
    rooms.set_state("r", "c", true, true, false).unwrap();
    rooms.announce("r", "a");
    rooms.leave("r", "c");
    rooms.announce("r", "b");
    let b_got = b_rx.drain();
    assert!(
        b_got
            .iter()
            .any(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.id == "a")),
        "{b_got:?}"
    );
    assert!(
        b_got.contains(&ServerMsg::ParticipantLeft { id: "c".into() }),
        "{b_got:?}"
    );
    let a_got = a_rx.drain();
    assert!(
        a_got.iter().any(
            |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == "c" && participant.audio)
        ),
        "{a_got:?}"
    );
    assert!(
        a_got
            .iter()
            .any(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.id == "b")),
        "{a_got:?}"
    );
    assert!(
        a_got.iter().any(|m| matches!(m, ServerMsg::Controls { .. })),
        "controls as they are now"
    );
}

#[test]
fn the_report_limit_holds_across_rejoins_and_tabs() {
    let rooms = Rooms::new(10);
    let s = Settings::default();
    let _host = inside(&rooms, s, "h", true);
    let _g = inside(&rooms, s, "g", false);
    let report = ClientMsg::Report {
        id: Some("h".into()),
        reason: "spam".into(),
    };
    for _ in 0..control::MAX_REPORTS {
        let fx = rooms.command("r", "g", &report).unwrap();
        assert!(fx.report.is_some());
    }
    let refused = rooms.command("r", "g", &report).map(|_| ()).map_err(|e| e.code);
    assert_eq!(refused, Err(ErrorCode::RateLimited));
    // Leaving and coming back (a new session, the same browser) gives no more.
    rooms.leave("r", "g");
    let _g2 = inside(&rooms, s, "g", false);
    let refused = rooms.command("r", "g", &report).map(|_| ()).map_err(|e| e.code);
    assert_eq!(refused, Err(ErrorCode::RateLimited), "after a rejoin");
    // Another tab of the same browser (another participant id, same device).
    let (mut tab, _rx) = entrant("g-tab");
    tab.device = "dev-g".into();
    assert!(matches!(enter_as(&rooms, s, tab), Ok(Entry::In(_))));
    let refused = rooms.command("r", "g-tab", &report).map(|_| ()).map_err(|e| e.code);
    assert_eq!(refused, Err(ErrorCode::RateLimited), "from another tab");
    // Someone else still may.
    assert!(rooms.command("r", "h", &report).is_ok());
}
