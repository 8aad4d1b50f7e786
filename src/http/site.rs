//! The router of the `--http` and `--https` listeners: which path answers
//! what. ACME HTTP-01 challenges on plain HTTP (RFC 8555 §8.3: the CA
//! fetches them over port 80).

use super::{Request, Response, challenge};
use crate::context::Context;

/// Answers one request to the HTTP (`tls` false) or HTTPS listener.
pub fn route(ctx: &Context, request: &Request<'_>) -> Response {
    let _ = ctx;
    let path = request.path();
    if !matches!(request.method(), "GET" | "HEAD" | "POST") {
        return Response::text(501, "method not implemented\n");
    }
    if path.starts_with("/.well-known/acme-challenge/") && !request.tls {
        if request.method() == "POST" {
            return Response::method_not_allowed("GET, HEAD");
        }
        if let Some(answer) = challenge::answer(path) {
            return answer;
        }
    }
    Response::not_found()
}
