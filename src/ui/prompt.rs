//! Questions on the terminal (dialoguer lives here and nowhere else): a yes/no, one item,
//! several items; Ctrl-C is an interruption, Esc or q a cancellation.

use super::Ui;

impl Ui {
    /// Prompts are possible only when both stdin and stderr are terminals (dialoguer
    /// reads /dev/tty even when stdin is piped).
    pub fn can_prompt(&self) -> bool {
        self.stdin_tty && self.stderr_tty
    }

    /// A multi-select on the terminal, every item checked to start with. `None` when the
    /// user cancels (Esc or q). Call only when [`Ui::can_prompt`] says so.
    pub fn choose_many(
        &self,
        prompt: &str,
        items: &[String],
    ) -> anyhow::Result<Option<Vec<usize>>> {
        let theme = dialoguer::theme::SimpleTheme;
        let checked: Vec<(String, bool)> = items.iter().map(|i| (i.clone(), true)).collect();
        Ok(dialoguer::MultiSelect::with_theme(&theme)
            .with_prompt(prompt)
            .items_checked(checked)
            .interact_opt()?)
    }

    /// A yes/no question on the terminal; Esc or q answers no. Call only when
    /// [`Ui::can_prompt`] says so.
    pub fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        let answer = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .interact_opt();
        Ok(answered(answer, question)?.unwrap_or(false))
    }

    /// One item chosen on the terminal, `default` highlighted to start with. `None` when
    /// the user cancels (Esc or q). Call only when [`Ui::can_prompt`] says so.
    pub fn choose_one(
        &self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> anyhow::Result<Option<usize>> {
        let choice = dialoguer::Select::new()
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact_opt();
        answered(choice, prompt)
    }
}

/// A prompt's answer, or why there is none: Ctrl-C is an interruption (exit 130), and
/// the cursor the prompt hid comes back whatever happened.
fn answered<T>(answer: dialoguer::Result<T>, prompt: &str) -> anyhow::Result<T> {
    answer.map_err(|e| {
        let _ = dialoguer::console::Term::stderr().show_cursor();
        let dialoguer::Error::IO(io) = &e;
        if io.kind() == std::io::ErrorKind::Interrupted {
            return crate::error::Error::interrupted().into();
        }
        anyhow::Error::from(e).context(format!("cannot ask on the terminal: {prompt}"))
    })
}
