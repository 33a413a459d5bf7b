"""Write code where a textarea is behind the code editor (the question admin's answer body, a
reader's "Edit and run" cell): through the editor, which writes it back to the textarea."""

SET_VALUE_JS = """(textarea, text) => {
  if (textarea.kbCodeEditor) textarea.kbCodeEditor.setValue(text); else textarea.value = text;
}"""


def fill_through_editor(textarea, text: str) -> None:
    """The textarea's whole text replaced, through its editor when one is attached."""
    textarea.evaluate(SET_VALUE_JS, text)


def fill_answer_body(page, text: str) -> None:
    """The whole answer body replaced in the question admin."""
    textarea = page.locator("#id_answer-0-body")
    textarea.wait_for(state="attached")
    page.wait_for_load_state("load")  # the editor attaches on DOMContentLoaded (deferred scripts)
    fill_through_editor(textarea, text)
