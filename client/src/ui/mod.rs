//! Yew components: small presentational pieces and the screens made of them.

pub mod avatar;
pub mod call;
pub mod call_state;
pub mod chat;
pub mod controls;
pub mod copy_link;
pub mod ended;
pub mod home;
pub mod icon;
pub mod lobby;
pub mod quality;
pub mod settings;
pub mod stats;
pub mod transfer;
pub mod video;
