//! TURN with a real coturn: calls forced through it (the relay's `--ice-transport-policy relay`), and what people
//! are told when it refuses the credentials the relay handed out (a wrong secret, an expired credential).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use huddle_e2e::spa::{new_room_id, selector as sel, stats_of, tile_of, two_in_a_call, Person, TwoInACall};
use huddle_e2e::{cdp, ensure, wait_for, wait_until, Error, IceView, Relay, Result, TurnServer, TIMEOUT};
use serde_json::{json, Value};

/// The secret coturn and the relay share when they are set up right.
const SECRET: &str = "e2e-turn-secret";

/// What the call screen says when the TURN server refuses the credentials (`IceProblem::TurnCredentialsRefused`).
const REFUSED: &str = "The TURN server refused this call's credentials, so connections through it cannot be made. \
                       Leave and rejoin to get new ones; if that does not help, the relay's TURN secret does not \
                       match the TURN server's.";

/// A relay handing out `turn`'s URL with credentials made from `secret`, telling clients to use relay candidates only.
async fn relay_only(turn: &TurnServer, secret: &str, more: &[&str]) -> Result<Relay> {
    let url = turn.url();
    let mut args = vec!["--turn-url", &url, "--turn-secret", secret, "--ice-transport-policy", "relay"];
    args.extend_from_slice(more);
    Relay::start_with(&args).await
}

/// Ada and Bob on a relay-only relay: the call connects and media flows (frames presented, bytes growing), every
/// local candidate is a relay candidate, the selected pair is relay to relay on both sides, and the statistics
/// panel tells the person the call is relayed.
pub async fn relay_only_calls_go_through_the_turn_server() -> Result<()> {
    let turn = TurnServer::start(SECRET).await?;
    let relay = relay_only(&turn, SECRET, &[]).await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;

    for (person, peer) in [(&ada, &bob_id), (&bob, &ada_id)] {
        let what = format!("{} has a selected candidate pair to {peer}", person.name());
        let view =
            wait_for(what, TIMEOUT, async || Ok(person.ice_view(peer).await?.filter(|v| v.selected.is_some()))).await?;
        let relayed = Some(("relay".to_owned(), "relay".to_owned()));
        ensure!(view.selected == relayed, "{}: the selected pair is not relay to relay: {view:?}", person.name());
        ensure!(
            !view.local_candidates.is_empty() && view.local_candidates.iter().all(|typ| typ == "relay"),
            "{}: local candidates other than TURN's: {view:?}",
            person.name()
        );
        ensure!(!person.exists(sel::ICE_PROBLEM).await?, "{}: an ICE problem is shown", person.name());
    }

    ada.click(sel::TOGGLE_STATS).await?;
    let path = format!("{} .stats-path", stats_of(&bob_id));
    wait_until("Ada's statistics say the call with Bob is relayed", TIMEOUT, async || {
        let seen = ada.text(&path).await?;
        match seen.trim() {
            "Relayed (TURN)" => Ok(true),
            other => Err(Error::Check(format!("the path reads {other:?}"))),
        }
    })
    .await
}

/// The relay's TURN secret is not coturn's: both people see why the call cannot connect, and it does not pretend to.
pub async fn a_wrong_turn_secret_is_explained() -> Result<()> {
    let turn = TurnServer::start("the-turn-servers-secret").await?;
    let relay = relay_only(&turn, "not-the-turn-servers-secret", &[]).await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    let bob = Person::new("Bob").await?;
    ada.join_room(&relay, &room).await?;
    bob.join_room(&relay, &room).await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;

    for (person, peer) in [(&ada, &bob_id), (&bob, &ada_id)] {
        let message = person.wait_ice_problem("turn_credentials_refused").await?;
        ensure!(message == REFUSED, "{} reads {message:?}", person.name());
        cannot_connect(person, peer).await?;
    }
    Ok(())
}

/// Drops every `ice_servers` message before the SPA sees it, as if the page talked to a relay that sends none.
const DROP_FRESH_CREDENTIALS: &str = r#"
    const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
    Object.defineProperty(WebSocket.prototype, 'onmessage', {
      configurable: true,
      get() { return onmessage.get.call(this); },
      set(handler) {
        onmessage.set.call(this, handler && function (event) {
          if (typeof event.data === 'string' && JSON.parse(event.data).type === 'ice_servers') return;
          return handler.call(this, event);
        });
      },
    });
"#;

/// Credentials that expired before they were used (`--turn-ttl 1s`, Ada's page never getting the fresh ones the
/// relay sends, and Bob arriving once Ada's have run out): Ada, whose connection to Bob only starts then, sees why
/// it cannot connect, and it does not pretend to.
pub async fn expired_turn_credentials_are_explained() -> Result<()> {
    let turn = TurnServer::start(SECRET).await?;
    let relay = relay_only(&turn, SECRET, &["--turn-ttl", "1s"]).await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    let bob = Person::new("Bob").await?;
    cdp::run_on_every_document(&ada, DROP_FRESH_CREDENTIALS).await?;
    ada.join_room(&relay, &room).await?;
    // Ada's credentials expire at the second after her join at the latest; coturn takes them until that second has
    // passed. Her peer connection to Bob, and with it her TURN allocation, starts only once Bob arrives.
    let expired_from = unix_seconds() + 2;
    wait_until("Ada's TURN credentials have expired", Duration::from_secs(5), async || {
        Ok(unix_seconds() >= expired_from)
    })
    .await?;
    bob.join_room(&relay, &room).await?;
    let bob_id = ada.wait_tile_named("Bob").await?;

    let message = ada.wait_ice_problem("turn_credentials_refused").await?;
    ensure!(message == REFUSED, "Ada reads {message:?}");
    let expiry = turn_expiry(&ada, &bob_id).await?;
    ensure!(expiry < unix_seconds(), "Ada's TURN credentials (expiring at {expiry}) have not expired");
    cannot_connect(&ada, &bob_id).await
}

/// The expiry in the TURN username `person`'s connection to `peer` is configured with now.
async fn turn_expiry(person: &Person, peer: &str) -> Result<u64> {
    let username = person
        .eval_js(
            "const pc = window.__huddle_pcs.get(arguments[0]); \
             return pc.getConfiguration().iceServers.map((server) => server.username).find(Boolean) ?? null;",
            vec![peer.into()],
        )
        .await?;
    let expiry = username.as_str().and_then(|name| name.split(':').next()?.parse::<u64>().ok());
    expiry.ok_or_else(|| Error::Check(format!("{}: no TURN username with an expiry: {username}", person.name())))
}

/// The relay candidates (`address:port`) in the local description of `person`'s connection to `peer`, and its ICE
/// username fragment: a new generation after an ICE restart, with new TURN allocations.
async fn relay_generation(person: &Person, peer: &str) -> Result<(String, Vec<String>)> {
    let reply: Value = person
        .eval_js(
            "const sdp = window.__huddle_pcs.get(arguments[0]).localDescription.sdp; \
             const ufrag = (sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1] || ''; \
             const relays = sdp.split('\\r\\n').filter((line) => line.startsWith('a=candidate:') && / typ relay/.test(line)) \
               .map((line) => { const f = line.split(' '); return f[4] + ':' + f[5]; }); \
             return { ufrag, relays };",
            vec![json!(peer)],
        )
        .await?;
    let ufrag = reply["ufrag"].as_str().unwrap_or_default().to_owned();
    let relays = reply["relays"].as_array().map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    Ok((ufrag, relays.map(Iterator::collect).unwrap_or_default()))
}

/// A relay-only call with credentials that live 3 seconds: it stays connected through several lifetimes (the
/// relayed path in use never depended on them), the SPA hands each connection the fresh credentials the relay
/// sends, and an ICE restart long after the first credentials expired connects again, through new TURN allocations,
/// which coturn grants only to valid credentials.
pub async fn calls_outlive_their_turn_credentials() -> Result<()> {
    const TTL: u64 = 3;
    let turn = TurnServer::start(SECRET).await?;
    let relay = relay_only(&turn, SECRET, &["--turn-ttl", &format!("{TTL}s")]).await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;
    let pairs = [(&ada, &bob_id), (&bob, &ada_id)];
    for (person, peer) in pairs {
        person.wait_connected(peer).await?;
    }
    let first_expiry = turn_expiry(&ada, &bob_id).await?;
    let before = (relay_generation(&ada, &bob_id).await?, relay_generation(&bob, &ada_id).await?);
    ensure!(!before.0 .1.is_empty() && !before.1 .1.is_empty(), "no relay candidates: {before:?}");

    // Three lifetimes past the first credentials' expiry, both connections checked every 100 ms all along (a bounded
    // watch: it ends at `until`).
    let until = first_expiry + 3 * TTL;
    while unix_seconds() <= until {
        for (person, peer) in pairs {
            let state =
                person.eval_js("return window.__huddle_pcs.get(arguments[0]).connectionState", vec![json!(peer)]);
            let state = state.await?;
            ensure!(
                state == "connected",
                "{}'s connection to {peer} went {state} at {}",
                person.name(),
                unix_seconds()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (person, peer) in pairs {
        let expiry = turn_expiry(person, peer).await?;
        ensure!(expiry > unix_seconds(), "{}'s connection holds credentials that expired at {expiry}", person.name());
        person.wait_sees_and_hears(peer).await?;
    }

    // An ICE restart gathers anew: new allocations, with the credentials each connection holds now.
    ada.eval_js("window.__huddle_pcs.get(arguments[0]).restartIce();", vec![json!(bob_id)]).await?;
    let after = wait_for("both connections are on a new ICE generation with relay candidates", TIMEOUT, async || {
        let now = (relay_generation(&ada, &bob_id).await?, relay_generation(&bob, &ada_id).await?);
        let fresh = |then: &(String, Vec<String>), now: &(String, Vec<String>)| now.0 != then.0 && !now.1.is_empty();
        Ok((fresh(&before.0, &now.0) && fresh(&before.1, &now.1)).then_some(now))
    })
    .await?;
    for ((then, now), who) in [(&before.0, &after.0), (&before.1, &after.1)].into_iter().zip(["Ada", "Bob"]) {
        ensure!(now.1.iter().all(|relay| !then.1.contains(relay)), "{who} reuses a relay address: {then:?} -> {now:?}");
    }
    for (person, peer) in pairs {
        person.wait_connected(peer).await?;
        let what = format!("{} has a selected candidate pair to {peer}", person.name());
        let view =
            wait_for(what, TIMEOUT, async || Ok(person.ice_view(peer).await?.filter(|v| v.selected.is_some()))).await?;
        let relayed = Some(("relay".to_owned(), "relay".to_owned()));
        ensure!(view.selected == relayed, "{}: the selected pair is not relay to relay: {view:?}", person.name());
        ensure!(!person.exists(sel::ICE_PROBLEM).await?, "{}: an ICE problem is shown", person.name());
        person.wait_sees_and_hears(peer).await?;
    }
    Ok(())
}

/// `person`'s connection to `peer` gathered every candidate it will and has none (the relay-only policy leaves only
/// TURN's), so it can never connect: neither the connection nor the tile says connected, and the tile says why not.
async fn cannot_connect(person: &Person, peer: &str) -> Result<()> {
    let what = format!("{}'s connection to {peer} has gathered its candidates", person.name());
    let view: IceView =
        wait_for(what, TIMEOUT, async || Ok(person.ice_view(peer).await?.filter(|v| v.gathering == "complete")))
            .await?;
    ensure!(view.local_candidates.is_empty(), "{}: candidates without TURN: {view:?}", person.name());
    ensure!(view.connection != "connected" && view.selected.is_none(), "{}: connected anyway: {view:?}", person.name());
    let tile = person.remote_tiles().await?.into_iter().find(|tile| tile.peer_id == peer);
    ensure!(tile.as_ref().is_some_and(|tile| tile.state != "connected"), "{}: tile {tile:?}", person.name());
    let status = person.text(&format!("{} .tile-status", tile_of(peer))).await?;
    ensure!(!status.trim().is_empty(), "{}: the tile of {peer} shows no connection status", person.name());
    Ok(())
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or_default()
}
