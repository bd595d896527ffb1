//! Past one machine: people connected to different relays that share rooms through Redis.

use huddle_e2e::spa::{new_room_id, Person};
use huddle_e2e::{RedisServer, Relay, Result};

/// Ada's browser talks to one relay and Bob's to another; the relays share the room through a real
/// `redis-server`, so the two meet and see and hear each other.
pub async fn people_on_two_relays_see_and_hear_each_other() -> Result<()> {
    let redis = RedisServer::start();
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--cluster-secret",
        "e2e cluster secret, 32 bytes or more",
        "--resume-secret",
        "e2e resume secret, 32 bytes or more",
    ];
    let (first, second) = (Relay::start_with(&args).await?, Relay::start_with(&args).await?);
    first.wait_healthy().await?;
    second.wait_healthy().await?;

    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    ada.join_room(&first, &room).await?;
    let bob = Person::new("Bob").await?;
    bob.join_room(&second, &room).await?;

    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    // Each relay holds its own person: the call really went through both.
    for relay in [&first, &second] {
        let health = relay.health()?;
        assert_eq!((health["connections"].as_u64(), health["redis"].as_str()), (Some(1), Some("ok")), "{health}");
    }
    Ok(())
}
