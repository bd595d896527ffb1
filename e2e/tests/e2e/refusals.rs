//! Refusals: each shows the error screen with the protocol's error code.

use huddle_common::ErrorCode;
use huddle_e2e::spa::{new_room_id, room_path, Person};
use huddle_e2e::{Relay, Result};

/// A second "ada" (names compare case-insensitively) cannot join while Ada is in the room.
pub async fn taken_name_is_refused() -> Result<()> {
    let relay = Relay::start().await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    ada.join_room(&relay, &room).await?;
    let other = Person::new("ada").await?;
    other.open_lobby(&relay.url(&room_path(&room))).await?;
    other.click_join().await?;
    other.wait_error(ErrorCode::NameTaken).await
}

/// With `--room-capacity 2`, a third person is refused.
pub async fn full_room_is_refused() -> Result<()> {
    let relay = Relay::start_with(&["--room-capacity", "2"]).await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    let bob = Person::new("Bob").await?;
    ada.join_room(&relay, &room).await?;
    bob.join_room(&relay, &room).await?;
    let cy = Person::new("Cy").await?;
    cy.open_lobby(&relay.url(&room_path(&room))).await?;
    cy.click_join().await?;
    cy.wait_error(ErrorCode::RoomFull).await
}

/// A link to something that is not a room id.
pub async fn bad_link_is_refused() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    ada.goto(&relay.url("/r/not-a-room")).await?;
    ada.wait_error(ErrorCode::InvalidRoom).await
}
