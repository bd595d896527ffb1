//! Sending files from the call screen (a button, a per-person action, drag and drop) and the list of transfers with
//! their progress.

use std::cell::RefCell;
use std::rc::Rc;

use huddle_common::PeerId;
use wasm_bindgen::prelude::*;
use web_sys::{DragEvent, Element, FileList, HtmlInputElement};
use yew::prelude::*;

use crate::call::transfer::{Direction, Request, Status, Transfer, TransferKey, TransferList};
use crate::rtc::engine::Engine;
use crate::ui::icon::{icon, Icon};

/// Ways to send files from the call screen, from [`use_file_sending`].
pub struct FileSending {
    /// Opens the file picker to send to one person, or to everyone (`None`).
    pub open: Callback<Option<PeerId>>,
    /// The hidden `<input type=file id="file-input">` behind the picker: render it once.
    pub input: Html,
    /// For the stage: files dragged over it.
    pub ondragover: Callback<DragEvent>,
    /// For the stage: the drag left it.
    pub ondragleave: Callback<DragEvent>,
    /// For the stage: files dropped onto a person's tile go to them, anywhere else to everyone.
    pub ondrop: Callback<DragEvent>,
    /// Files are being dragged over the stage.
    pub dragging: bool,
}

/// The file picker and the drop target, sending through `engine` once the call has one.
#[hook]
pub fn use_file_sending(engine: Option<Engine>) -> FileSending {
    let input = use_node_ref();
    let target: Rc<RefCell<Option<PeerId>>> = use_mut_ref(|| None);
    let dragging = use_state_eq(|| false);
    // A file dropped anywhere else (the controls, the chat) must not make the browser open it in place of the call.
    use_effect_with((), |_| {
        let window = web_sys::window().expect("a window");
        let swallow = Closure::<dyn Fn(DragEvent)>::new(|event: DragEvent| {
            if carries_files(&event) {
                event.prevent_default();
            }
        });
        for kind in ["dragover", "drop"] {
            let _ = window.add_event_listener_with_callback(kind, swallow.as_ref().unchecked_ref());
        }
        move || {
            for kind in ["dragover", "drop"] {
                let _ = window.remove_event_listener_with_callback(kind, swallow.as_ref().unchecked_ref());
            }
        }
    });

    let open = {
        let (input, target) = (input.clone(), target.clone());
        Callback::from(move |to: Option<PeerId>| {
            *target.borrow_mut() = to;
            if let Some(input) = input.cast::<HtmlInputElement>() {
                input.click();
            }
        })
    };
    let onchange = {
        let (engine, target) = (engine.clone(), target.clone());
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let to = target.borrow_mut().take();
            if let (Some(engine), Some(files)) = (&engine, input.files()) {
                send_all(engine, &files, to.as_ref());
            }
            // Picking the same file again must fire `change` again.
            input.set_value("");
        })
    };
    let ondragover = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            if !carries_files(&event) {
                return;
            }
            // Accepting the drag is what allows the drop.
            event.prevent_default();
            if let Some(data) = event.data_transfer() {
                data.set_drop_effect("copy");
            }
            dragging.set(true);
        })
    };
    let ondragleave = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            // Moving onto a child of the stage fires this too: only leaving the stage counts.
            let inside = event
                .related_target()
                .and_then(|target| target.dyn_into::<Element>().ok())
                .and_then(|element| element.closest(".stage").ok().flatten())
                .is_some();
            if !inside {
                dragging.set(false);
            }
        })
    };
    let ondrop = {
        let (engine, dragging) = (engine, dragging.clone());
        Callback::from(move |event: DragEvent| {
            dragging.set(false);
            let Some(files) = event.data_transfer().and_then(|data| data.files()) else { return };
            if files.length() == 0 {
                return;
            }
            event.prevent_default();
            let to = event
                .target()
                .and_then(|target| target.dyn_into::<Element>().ok())
                .and_then(|element| element.closest("[data-peer-id]").ok().flatten())
                .and_then(|tile| tile.get_attribute("data-peer-id"))
                .map(|id| PeerId::from(id.as_str()));
            if let Some(engine) = &engine {
                send_all(engine, &files, to.as_ref());
            }
        })
    };
    let input = html! {
        <input id="file-input" ref={input} type="file" multiple=true class="visually-hidden" tabindex="-1"
            aria-hidden="true" {onchange} />
    };
    FileSending { open, input, ondragover, ondragleave, ondrop, dragging: *dragging }
}

fn carries_files(event: &DragEvent) -> bool {
    event.data_transfer().is_some_and(|data| data.types().includes(&"Files".into(), 0))
}

fn send_all(engine: &Engine, files: &FileList, to: Option<&PeerId>) {
    for file in (0..files.length()).filter_map(|i| files.get(i)) {
        engine.send_file(&file, to);
    }
}

/// The list of transfers, newest first, and the offers declined without a line; nothing while there are none.
/// `on_request` carries out what the person asks of one (accept, decline, cancel, dismiss).
pub fn transfer_panel(transfers: &TransferList, on_request: &Callback<(TransferKey, Request)>) -> Html {
    if transfers.is_empty() {
        return html! {};
    }
    html! {
        <section id="transfers" class="transfers" aria-label="Files">
            <ul>
                { for transfers.items.iter().rev().map(|transfer| transfer_item(transfer, on_request)) }
            </ul>
            { for transfers.dropped.iter().map(|dropped| html! {
                <p class="transfers-dropped" data-peer-id={dropped.peer.to_string()}>{ dropped.line() }</p>
            }) }
        </section>
    }
}

/// One transfer: its file, who it is with, a progress bar, and what can be done with it: accept or decline an offer,
/// cancel it while it moves, save it once received, dismiss it once over.
fn transfer_item(transfer: &Transfer, on_request: &Callback<(TransferKey, Request)>) -> Html {
    let direction = transfer.key.direction.as_str();
    let file_icon = match transfer.key.direction {
        Direction::Send => Icon::Up,
        Direction::Receive => Icon::Down,
    };
    let key = format!("{direction}:{}:{}", transfer.key.peer, transfer.key.id);
    let name = transfer.name.as_str();
    // Every button of an item, as one function: each `html!` button costs the SPA its own code.
    let button = |request: Request| {
        let (class, label, text) = match request {
            Request::Accept => ("transfer-accept primary", "Accept", "Accept"),
            Request::Decline => ("transfer-decline", "Decline", "Decline"),
            Request::Cancel => ("transfer-cancel", "Cancel", "✕"),
            Request::Dismiss => ("transfer-dismiss", "Dismiss", "✕"),
        };
        let key = transfer.key.clone();
        let onclick = on_request.reform(move |_: MouseEvent| (key.clone(), request));
        html! { <button type="button" {class} aria-label={format!("{label} {name}")} title={label} {onclick}>{ text }</button> }
    };
    let state = transfer.data_state();
    // An empty file is all there once done; `<progress max=0>` would show as indeterminate.
    let (max, value) = match transfer.size {
        0 => (1, u64::from(state == "done")),
        size => (size, transfer.bytes),
    };
    let offered = matches!(transfer.status, Status::Offered);
    html! {
        <li {key} class={classes!("transfer", direction)} data-transfer-id={transfer.key.id.clone()}
            data-state={state} data-direction={direction}>
            <span class="transfer-icon">{ icon(file_icon) }</span>
            <div class="transfer-body">
                <div class="transfer-name" title={name.to_owned()}>{ name }</div>
                <progress class="transfer-progress" max={max.to_string()} value={value.to_string()}
                    aria-label={format!("{name}: {}", transfer.amount_line())} />
                <div class="transfer-meta">
                    <span class="transfer-status" aria-live="polite">{ transfer.status_line() }</span>
                    <span class="transfer-amount">{ transfer.amount_line() }</span>
                </div>
                if offered {
                    <div class="transfer-answer">{ button(Request::Accept) }{ button(Request::Decline) }</div>
                }
            </div>
            <div class="transfer-actions">
                if let Some(url) = &transfer.download {
                    // Saved, never opened in place: `download` always, and the blob's type is a harmless one.
                    <a class="file-download" href={url.clone()} download={name.to_owned()}
                        aria-label={format!("Save {name}")}>{ "Save" }</a>
                }
                if transfer.is_finished() {
                    { button(Request::Dismiss) }
                } else if !offered {
                    { button(Request::Cancel) }
                }
            </div>
        </li>
    }
}
