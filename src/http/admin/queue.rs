//! `/admin/queue`: the outbound queue as `smolmail queue list` prints it;
//! flush (every entry due now, and the runner woken at once) and delete
//! (one id or ALL). The same operations as `smolmail queue ...`
//! (`delivery::admin`).

use super::form::Form;
use super::{Cx, html};
use crate::http::Response;

pub fn page(cx: &Cx<'_>) -> Response {
    let text = crate::delivery::admin::queue_text(&cx.ctx.store);
    cx.page("Outbound queue", |out| {
        let csrf = cx.csrf();
        match text {
            Ok(t) => {
                out.push_str("<div id=queue>");
                html::pre(out, &t);
                out.push_str("</div>");
            }
            Err(e) => html::pre(out, &format!("cannot read the queue: {e}")),
        }
        html::button(
            out,
            "/admin/queue",
            csrf,
            "flush",
            &[],
            "Flush: try every message now",
        );
        html::form_open(out, "/admin/queue", csrf, "");
        out.push_str("<fieldset><input type=hidden name=op value=delete>");
        html::input(out, "Queue ID (or ALL)", "id", "text", "");
        out.push_str("<button>Delete</button></fieldset></form>");
        out.push_str("<p>The same as <code>smolmail queue list|flush|delete</code>.</p>");
    })
}

pub async fn act(cx: &Cx<'_>, form: &Form) -> Result<String, String> {
    let store = &cx.ctx.store;
    match form.text("op") {
        "flush" => {
            let text = crate::delivery::admin::flush(store).await?;
            // This process runs the queue: wake it rather than wait.
            cx.ctx.queue_kick.notify(1);
            Ok(text.replace(
                "a running server sends them within 5 seconds",
                "sending now",
            ))
        }
        "delete" => {
            let id = form.text("id");
            if id.is_empty() {
                return Err("give a queue id, or ALL".into());
            }
            crate::delivery::admin::delete(store, id).await
        }
        _ => Err("unknown change".into()),
    }
}
