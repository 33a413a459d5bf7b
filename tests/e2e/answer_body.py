"""Write an answer body in the question admin, where the textarea is behind the code editor."""

SET_BODY_JS = """text => {
  const textarea = document.querySelector("#id_answer-0-body");
  if (textarea.kbCodeEditor) textarea.kbCodeEditor.setValue(text); else textarea.value = text;
}"""


def fill_answer_body(page, text: str) -> None:
    """The whole body replaced through the editor (which writes it back to the textarea)."""
    page.locator("#id_answer-0-body").wait_for(state="attached")
    page.wait_for_load_state("load")  # the editor attaches on DOMContentLoaded (deferred scripts)
    page.evaluate(SET_BODY_JS, text)
