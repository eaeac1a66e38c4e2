//! A small HTTP/1.1 file server on 127.0.0.1 for the download tests. Paths are
//! `/MODE/NAME`: `good` serves the file; `drop` promises the whole file but closes the
//! connection half-way through it; `wrong` serves other bytes of the same length; anything
//! else, or an unknown name, is a 404.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct Server {
    pub port: u16,
    /// The paths requested so far, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Serve `files` (name → bytes) until the test process ends.
    pub fn start(files: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let files = Arc::new(files);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (files, log) = (files.clone(), log.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    // The rest of the request head.
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    log.lock().unwrap().push(path.clone());
                    let mut parts = path.trim_start_matches('/').splitn(2, '/');
                    let (mode, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let known = ["good", "drop", "wrong", "stall"].contains(&mode);
                    let Some(body) = files.get(name).filter(|_| known) else {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    };
                    let head =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = stream.write_all(head.as_bytes());
                    let _ = match mode {
                        "good" => stream.write_all(body),
                        "drop" => stream.write_all(&body[..body.len() / 2]),
                        // 1,000 bytes, then silence with the connection open.
                        "stall" => {
                            let _ = stream.write_all(&body[..1000.min(body.len())]);
                            let _ = stream.flush();
                            std::thread::sleep(std::time::Duration::from_secs(600));
                            Ok(())
                        }
                        _ => stream.write_all(&body.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>()),
                    };
                    let _ = stream.flush();
                });
            }
        });
        Server { port, requests }
    }

    /// The base URL of one mode, e.g. `http://127.0.0.1:PORT/good/`.
    pub fn base(&self, mode: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}/", self.port)
    }
}
