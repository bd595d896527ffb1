//! Where the app is: the address bar is the source of truth, so a room link opens the room.

use huddle_common::RoomId;

/// A screen reachable by URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: pick a name, start or open a room.
    Home,
    /// `/r/<room id>`: the lobby, then the call.
    Room(RoomId),
    /// `/r/<something else>`: a link that cannot be a room.
    BadRoom(String),
}

impl Route {
    /// The route for a path (`location.pathname`).
    pub fn from_path(path: &str) -> Route {
        match path.trim_end_matches('/').strip_prefix("/r/") {
            Some(code) => match RoomId::parse(code) {
                Ok(room) => Route::Room(room),
                Err(_) => Route::BadRoom(code.to_owned()),
            },
            None => Route::Home,
        }
    }

    /// The path for this route.
    pub fn path(&self) -> String {
        match self {
            Route::Home => "/".to_owned(),
            Route::Room(room) => format!("/r/{room}"),
            Route::BadRoom(code) => format!("/r/{code}"),
        }
    }
}

/// Reads a room out of whatever a person pasted: a full link, a path, or the bare code.
pub fn room_from_input(input: &str) -> Option<RoomId> {
    let input = input.trim();
    let tail = input.rsplit_once("/r/").map_or(input, |(_, tail)| tail);
    let code = tail.split(['?', '#', '/']).next().unwrap_or_default();
    RoomId::parse(code).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes_and_back() {
        let room = RoomId::from_random([9; 16]);
        assert_eq!(Route::from_path("/"), Route::Home);
        assert_eq!(Route::from_path("/anything"), Route::Home);
        assert_eq!(Route::from_path(&format!("/r/{room}")), Route::Room(room.clone()));
        assert_eq!(Route::from_path(&format!("/r/{room}/")), Route::Room(room.clone()));
        assert_eq!(Route::from_path("/r/not-a-room"), Route::BadRoom("not-a-room".into()));
        assert_eq!(Route::Room(room.clone()).path(), format!("/r/{room}"));
    }

    #[test]
    fn a_pasted_link_or_code_yields_its_room() {
        let room = RoomId::from_random([3; 16]);
        for input in [
            format!("https://huddle.example/r/{room}"),
            format!("  http://127.0.0.1:8080/r/{room}?x=1 "),
            format!("/r/{room}#top"),
            room.to_string().to_uppercase(),
        ] {
            assert_eq!(room_from_input(&input), Some(room.clone()), "{input}");
        }
        assert_eq!(room_from_input("https://huddle.example/r/nope"), None);
        assert_eq!(room_from_input(""), None);
    }
}
