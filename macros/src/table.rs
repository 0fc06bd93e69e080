//! The attributes, declared once. Each row of the `attributes!` invocation in `lib.rs`
//! makes the attribute (a `#[proc_macro_attribute]` of the crate root, which is where
//! the compiler wants it) and its entry in [`Attr::ALL`], the table from which the
//! attribute is recognized stacked on a function, named in messages and listed for the
//! runtime (`__attribute_names!`). A shortcut's method is looked up in
//! [`erlen_pattern::METHODS`] by the shortcut's name, at compile time.

/// What an attribute registers the function as, and so which arguments it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `#[route("/p", methods = [...])]`.
    Route,
    /// `#[get("/p")]`: a route for the method the attribute is named after.
    Method(&'static str),
    /// `#[websocket("/p")]`: a GET route whose view upgrades the connection.
    WebSocket,
    BeforeRequest,
    AfterRequest,
    TeardownRequest,
    BeforeServing,
    AfterServing,
    /// `#[errorhandler(404)]` or `#[errorhandler(MyError)]`.
    ErrorHandler,
    TemplateFilter,
    TemplateGlobal,
    /// `#[command]` or `#[command("name")]`: a command of the app's command line.
    Command,
}

impl Role {
    /// `#[route]` and the method shortcuts: the attributes that may be stacked.
    pub(crate) fn is_route(self) -> bool {
        matches!(self, Role::Route | Role::Method(_))
    }

    /// The attributes that give the function a URL, for `url_for!`.
    pub(crate) fn has_url(self) -> bool {
        self.is_route() || self == Role::WebSocket
    }
}

/// One attribute: its name, as written in `#[name]`, and its role.
#[derive(Clone, Copy)]
pub(crate) struct Attr {
    pub name: &'static str,
    pub role: Role,
}

impl Attr {
    /// The attribute named `name` (the last segment of its path: `get`, `erlen::get`).
    pub(crate) fn named(name: &str) -> Option<Attr> {
        Attr::ALL.iter().find(|a| a.name == name).copied()
    }

    /// The attributes whose role passes `filter`, for a message: "`#[a]`, `#[b]` or `#[c]`".
    pub(crate) fn list(filter: fn(Role) -> bool) -> String {
        let names: Vec<String> =
            Attr::ALL.iter().filter(|a| filter(a.role)).map(|a| format!("`#[{}]`", a.name)).collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The method of a shortcut attribute, looked up by its name in the shared method table;
/// evaluated at compile time, so that a shortcut for no known method does not build.
pub(crate) const fn shortcut_method(name: &str) -> &'static str {
    match erlen_pattern::method(name) {
        Some(method) => method,
        None => panic!("a shortcut attribute is named after a method of `erlen_pattern::METHODS`"),
    }
}

/// Declares the attributes: `name => Role;` rows with their documentation. Generates
/// each `#[proc_macro_attribute]`, which hands its row to `attribute::expand`, and
/// [`Attr::ALL`]. A `Method` row takes its method from its name.
macro_rules! attributes {
    ($($(#[$doc:meta])* $name:ident => $role:ident;)*) => {
        impl $crate::table::Attr {
            /// Every attribute, in the order of their declaration.
            pub(crate) const ALL: &'static [$crate::table::Attr] = &[$($crate::table::attributes!(@row $name $role)),*];
        }
        $(
            $(#[$doc])*
            #[proc_macro_attribute]
            pub fn $name(args: proc_macro::TokenStream, item: proc_macro::TokenStream) -> proc_macro::TokenStream {
                const ATTR: $crate::table::Attr = $crate::table::attributes!(@row $name $role);
                $crate::attribute::expand(ATTR, args.into(), item.into()).into()
            }
        )*
    };
    (@row $name:ident Method) => {
        $crate::table::Attr {
            name: stringify!($name),
            role: $crate::table::Role::Method($crate::table::shortcut_method(stringify!($name))),
        }
    };
    (@row $name:ident $role:ident) => {
        $crate::table::Attr { name: stringify!($name), role: $crate::table::Role::$role }
    };
}

pub(crate) use attributes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_is_found_by_its_name_once() {
        for attr in Attr::ALL {
            assert_eq!(Attr::ALL.iter().filter(|a| a.name == attr.name).count(), 1, "{}", attr.name);
            assert!(Attr::named(attr.name).is_some_and(|a| a.role == attr.role));
        }
        assert!(Attr::named("test").is_none());
    }

    #[test]
    fn shortcuts_take_their_method_from_the_shared_table() {
        let shortcuts: Vec<(&str, &str)> = Attr::ALL
            .iter()
            .filter_map(|a| match a.role {
                Role::Method(m) => Some((a.name, m)),
                _ => None,
            })
            .collect();
        assert_eq!(
            shortcuts,
            [("get", "GET"), ("post", "POST"), ("put", "PUT"), ("patch", "PATCH"), ("delete", "DELETE")]
        );
        assert!(shortcuts.iter().all(|(_, m)| erlen_pattern::METHODS.contains(m)));
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(
            Attr::list(Role::has_url),
            "`#[route]`, `#[get]`, `#[post]`, `#[put]`, `#[patch]`, `#[delete]` or `#[websocket]`"
        );
        assert_eq!(Attr::list(|r| r == Role::ErrorHandler), "`#[errorhandler]`");
    }
}
