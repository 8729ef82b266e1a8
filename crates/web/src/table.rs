//! A route table: one entry per method and path, found by path shape. The hub's `/api/v1`
//! and the joined node's `/api/v1/node` are both built on it, so they route alike.
//!
//! A path is `/`-separated literals and `{name}` segments, which take positive integer ids
//! (refused by name when they are not one). A literal beats an id where both fit
//! (`conversations/direct` is not conversation "direct"). For a path the table has but not
//! with the request's method, [`Miss::Method`] carries the `Allow` value: the table's methods
//! for that path, in the order they were added.

use chinwag_proto::ApiError;
use warp::http::Method;

enum Segment {
    Literal(&'static str),
    /// A positive id; the name says what it is in a refusal.
    Id(&'static str),
}

/// One entry of a [`Table`].
pub struct Route<H> {
    pub method: Method,
    pub path: &'static str,
    segments: Vec<Segment>,
    pub handler: H,
}

/// Why no route takes a request.
#[derive(Debug)]
pub enum Miss {
    /// No route has this path.
    NotFound,
    /// The path's shape is known, but an id in it is not a positive integer.
    BadId(ApiError),
    /// The path is known, not with this method; `allow` lists its methods.
    Method { allow: String },
}

impl<H> Route<H> {
    /// How many literal segments `parts` matched, when it has this route's shape.
    fn matches(&self, parts: &[&str]) -> Option<usize> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(text) if text == part => literals += 1,
                Segment::Literal(_) => return None,
                Segment::Id(_) => {}
            }
        }
        Some(literals)
    }

    fn ids(&self, parts: &[&str]) -> Result<[i64; 2], ApiError> {
        let mut ids = [0; 2];
        let named = self
            .segments
            .iter()
            .zip(parts)
            .filter_map(|(s, p)| match s {
                Segment::Id(name) => Some((name, p)),
                Segment::Literal(_) => None,
            });
        for (slot, (name, part)) in ids.iter_mut().zip(named) {
            *slot = part.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
                ApiError::bad_request(format!("`{part}` is not a valid {name} id."))
            })?;
        }
        Ok(ids)
    }
}

/// The routes of one server.
pub struct Table<H> {
    routes: Vec<Route<H>>,
}

impl<H> Default for Table<H> {
    fn default() -> Self {
        Table { routes: Vec::new() }
    }
}

impl<H> Table<H> {
    /// Adds `method` on `path` (at most two `{id}` segments), answered by `handler`.
    pub fn add(mut self, method: Method, path: &'static str, handler: H) -> Self {
        let segments: Vec<Segment> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Id(name),
                    None => Segment::Literal(s),
                },
            )
            .collect();
        debug_assert!(
            segments
                .iter()
                .filter(|s| matches!(s, Segment::Id(_)))
                .count()
                <= 2,
            "{path}: at most two ids"
        );
        self.routes.push(Route {
            method,
            path,
            segments,
            handler,
        });
        self
    }

    /// The route for `method` on `path` (empty segments ignored), with the path's ids in
    /// order (unused slots are 0).
    pub fn find(&self, method: &Method, path: &str) -> Result<(&Route<H>, [i64; 2]), Miss> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let best = self
            .routes
            .iter()
            .filter_map(|r| Some((r.matches(&parts)?, r)))
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, r)| r.path)
            .ok_or(Miss::NotFound)?;
        let mut same_path = self.routes.iter().filter(|r| r.path == best);
        let first = same_path.next().ok_or(Miss::NotFound)?;
        let ids = first.ids(&parts).map_err(Miss::BadId)?;
        match std::iter::once(first)
            .chain(same_path)
            .find(|r| r.method == method)
        {
            Some(route) => Ok((route, ids)),
            None => Err(Miss::Method {
                allow: self.allow(best),
            }),
        }
    }

    /// The methods `path` takes, as `Allow` lists them.
    fn allow(&self, path: &str) -> String {
        let methods: Vec<&str> = self
            .routes
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.method.as_str())
            .collect();
        methods.join(", ")
    }

    /// Every route, in the order added.
    pub fn routes(&self) -> impl Iterator<Item = &Route<H>> {
        self.routes.iter()
    }

    /// The handler of the route added last, for a builder that qualifies it.
    pub fn last_handler_mut(&mut self) -> Option<&mut H> {
        self.routes.last_mut().map(|r| &mut r.handler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table<u8> {
        Table::default()
            .add(Method::POST, "conversations/direct", 1)
            .add(Method::GET, "conversations/{conversation}", 2)
            .add(Method::PATCH, "conversations/{conversation}", 3)
            .add(
                Method::PATCH,
                "conversations/{conversation}/members/{user}",
                4,
            )
            .add(Method::GET, "", 5)
    }

    #[test]
    fn paths_find_their_route_and_ids() {
        let t = table();
        let (route, ids) = t
            .find(&Method::PATCH, "conversations/7/members/3")
            .expect("found");
        assert_eq!((route.handler, ids), (4, [7, 3]));
        let (route, _) = t
            .find(&Method::POST, "/conversations/direct/")
            .expect("found");
        assert_eq!(route.handler, 1, "a literal beats an id");
        let (route, _) = t.find(&Method::GET, "").expect("the empty path");
        assert_eq!(route.handler, 5);
    }

    #[test]
    fn misses_say_why() {
        let t = table();
        assert!(matches!(t.find(&Method::GET, "nope"), Err(Miss::NotFound)));
        match t.find(&Method::GET, "conversations/abc") {
            Err(Miss::BadId(err)) => {
                assert_eq!(err.message, "`abc` is not a valid conversation id.")
            }
            _ => panic!("a bad id"),
        }
        assert!(matches!(
            t.find(&Method::GET, "conversations/-1"),
            Err(Miss::BadId(_))
        ));
        match t.find(&Method::DELETE, "conversations/4") {
            Err(Miss::Method { allow }) => assert_eq!(allow, "GET, PATCH"),
            _ => panic!("a wrong method"),
        }
        match t.find(&Method::GET, "conversations/direct") {
            Err(Miss::Method { allow }) => assert_eq!(allow, "POST"),
            _ => panic!("a wrong method"),
        }
    }
}
