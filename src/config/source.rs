//! Where inputs and runner variables come from: the process (flags, then `INPUT_*`) or, in
//! tests, a map. No test ever sets a process environment variable.

use std::collections::HashMap;

/// Where inputs and runner variables come from. The binary reads the process (and its flags);
/// tests pass a map, so no test ever sets a process environment variable.
pub trait Source {
    /// The value of input `name` (kebab-case), `None` when unset or empty.
    fn input(&self, name: &str) -> Option<String>;
    /// A runner or AWS variable (`GITHUB_REF`, `AWS_REGION`...), `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether input `name` came from a command-line flag, so a message can name `--name`.
    fn given_by_flag(&self, _name: &str) -> bool {
        false
    }
    /// Whether the inputs come (partly) from the command line: a missing input is then a
    /// missing flag, not a missing `with:` key.
    fn on_command_line(&self) -> bool {
        false
    }
    /// The event that started the run (the JSON at `GITHUB_EVENT_PATH`), when there is one.
    fn event(&self) -> Option<String> {
        None
    }
}

/// The real source: command-line flags first, then `INPUT_<NAME>` with hyphens kept.
pub struct ProcessSource {
    pub flags: HashMap<String, String>,
}

/// The variable the runner sets for an input: upper-cased, spaces to `_`, hyphens kept.
pub fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

impl Source for ProcessSource {
    fn input(&self, name: &str) -> Option<String> {
        self.flags
            .get(name)
            .cloned()
            .or_else(|| std::env::var(input_variable(name)).ok())
            .filter(|v| !v.trim().is_empty())
    }
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
    fn given_by_flag(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }
    fn on_command_line(&self) -> bool {
        !self.flags.is_empty()
    }
    fn event(&self) -> Option<String> {
        let path = self.var("GITHUB_EVENT_PATH")?;
        std::fs::read_to_string(path).ok()
    }
}

/// A map-backed source for tests and embedding.
#[derive(Default, Clone)]
pub struct MapSource {
    pub inputs: HashMap<String, String>,
    pub vars: HashMap<String, String>,
    /// Inputs to report as given by flag.
    pub flags: Vec<String>,
    /// The event's JSON.
    pub event: Option<String>,
}

impl MapSource {
    pub fn input(mut self, name: &str, value: &str) -> Self {
        self.inputs.insert(name.into(), value.into());
        self
    }
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
    pub fn flag(mut self, name: &str, value: &str) -> Self {
        self.flags.push(name.into());
        self.input(name, value)
    }
    pub fn event(mut self, json: &str) -> Self {
        self.event = Some(json.into());
        self
    }
}

impl Source for MapSource {
    fn input(&self, name: &str) -> Option<String> {
        self.inputs
            .get(name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .cloned()
            .filter(|v| !v.trim().is_empty())
    }
    fn given_by_flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    fn on_command_line(&self) -> bool {
        !self.flags.is_empty()
    }
    fn event(&self) -> Option<String> {
        self.event.clone()
    }
}
