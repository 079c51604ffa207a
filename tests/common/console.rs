//! A minimal browser for the web console over plain HTTP: one cookie jar entry (the session
//! cookie), no redirects followed, every answer kept whole (status, headers, body) so tests can
//! look at headers and search bodies.

use std::time::Duration;

pub struct Page {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The session id a `Set-Cookie` carries.
    pub fn session_cookie(&self) -> Option<String> {
        let v = self.header("set-cookie")?;
        v.split(';').next()?.strip_prefix("calamari_session=").map(str::to_string)
    }
    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..at + 64].to_string()
    }
    /// Status line, headers and body, as a transcript entry.
    pub fn whole(&self) -> String {
        let head: String = self.headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        format!("{}\n{head}\n{}", self.status, self.body)
    }
}

pub struct Browser {
    pub url: String,
    /// The session id sent as the cookie (None: no cookie).
    pub session: Option<String>,
    agent: ureq::Agent,
}

impl Browser {
    pub fn new(url: &str) -> Browser {
        let agent = ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(30)).build();
        Browser { url: url.to_string(), session: None, agent }
    }

    fn finish(&mut self, r: Result<ureq::Response, ureq::Error>) -> Page {
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("console request: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .flat_map(|h| resp.all(&h).into_iter().map(move |v| (h.clone(), v.to_string())).collect::<Vec<_>>())
            .collect();
        let page = Page { status, headers, body: resp.into_string().unwrap_or_default() };
        if let Some(id) = page.session_cookie() {
            self.session = Some(id);
        }
        page
    }

    fn with_cookie(&self, req: ureq::Request) -> ureq::Request {
        match &self.session {
            Some(id) => req.set("Cookie", &format!("calamari_session={id}")),
            None => req,
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let req = self.with_cookie(self.agent.get(&format!("{}{path}", self.url)));
        self.finish(req.call())
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.with_cookie(self.agent.post(&format!("{}{path}", self.url)));
        self.finish(req.send_form(fields))
    }

    /// Signs up (sign-up must be on); the browser ends logged in.
    pub fn sign_up(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/console/signup");
        let p = self.post("/console/signup", &[("csrf", &form.csrf()), ("account", name), ("password", password), ("password2", password)]);
        assert_eq!((p.status, p.header("location")), (303, Some("/console/balances")), "sign-up: {}", p.body);
        p
    }

    pub fn log_in(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/console/login");
        self.post("/console/login", &[("csrf", &form.csrf()), ("account", name), ("password", password)])
    }
}
