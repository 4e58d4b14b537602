//! A scripted HTTP server for the gates: each path answers a sequence of responses (the last
//! repeats), like a health endpoint warming up or an Argo CD application syncing.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
}

#[derive(Default)]
pub struct WebState {
    pub scripts: HashMap<String, Vec<Answer>>,
    /// (path, headers) of every request.
    pub requests: Vec<(String, HashMap<String, String>)>,
}

#[derive(Clone)]
pub struct ScriptedServer {
    pub url: String,
    pub state: Arc<Mutex<WebState>>,
}

impl ScriptedServer {
    pub fn start() -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(WebState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        ScriptedServer { url, state }
    }

    /// Answer `path` with these, in turn; the last one repeats.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(path.into(), answers);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    pub fn requests(&self) -> Vec<(String, HashMap<String, String>)> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(mut stream: TcpStream, state: &Arc<Mutex<WebState>>) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    while let Some(request) = super::http::read_request(&mut reader) {
        let (target, headers) = (request.target, request.headers);
        let answer = {
            let mut s = state.lock().unwrap();
            s.requests.push((target.clone(), headers));
            match s.scripts.get_mut(&target) {
                Some(list) if list.len() > 1 => list.remove(0),
                Some(list) if !list.is_empty() => list[0].clone(),
                _ => Answer::new(404, r#"{"error":"not found"}"#),
            }
        };
        let mut text = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (k, v) in &answer.headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(&answer.body);
        if stream.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}
