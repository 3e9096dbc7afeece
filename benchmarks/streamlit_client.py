"""A visitor without a browser: one Streamlit session spoken to in Streamlit's own protocol.

What the browser's frontend does, reduced to what the benchmarks need (Streamlit 1.67): a
websocket on /_stcore/stream carrying BackMsg protobufs up (`rerun_script` with the widgets'
states, `file_urls_request`) and ForwardMsg protobufs down (`new_session` at each run's start,
`delta`s with the elements, `file_urls_response`, `navigation` naming the pages,
`script_finished`). A button's click is a one-shot trigger in the next rerun's states; another
page, a rerun with its script's hash. A file goes up by HTTP PUT to the URL the server handed out,
with the XSRF cookie (set by /_stcore/health) echoed in the X-Xsrftoken header; and the pictures
an `st.image` names are fetched from /media, as a browser would. A visitor costs the machine a few
milliseconds of CPU where a headless Chromium cost a core: the benchmark measures the server.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

XSRF_COOKIE = "_streamlit_xsrf"
DONE = ForwardMsg.FINISHED_SUCCESSFULLY


@dataclass
class Run:
    """What one script run drew: its widgets by label, its texts (markdown, headings, alerts),
    its images (caption, url), its exceptions."""

    widgets: dict[str, object] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status: int | None = None


class Visitor:
    """One session: `await open()`, then `upload(name, data)` and `set_slider(label, value)`,
    each returning once a run has finished with what `until` asks of it."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=600)
        self.session_id, self.page_hash = "", ""
        self.run, self.finished = Run(), asyncio.Queue()
        self.states: dict[str, object] = {}  # widget id -> its WidgetState, sent on every rerun
        self.pages: dict[str, str] = {}  # url path ("" the default page) -> its script's hash
        self._urls: dict[str, asyncio.Future] = {}

    async def open(self) -> Run:
        """Connect and run the page once, as a browser's first visit does."""
        await self.http.get("/_stcore/health")  # sets the XSRF cookie the upload echoes
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        self.socket = await websockets.connect(
            ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=120
        )
        self._reader = asyncio.create_task(self._read())
        return await self.rerun(lambda run: True)

    async def close(self) -> None:
        await self.socket.close()
        self._reader.cancel()
        await self.http.aclose()

    async def rerun(self, until) -> Run:
        """Send the widgets' states; the first run that finishes well and satisfies `until`."""
        message = BackMsg()
        state = message.rerun_script
        state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(self.states.values())
        await self.socket.send(message.SerializeToString())
        # A click is sent once, as the browser's trigger is.
        self.states = {k: s for k, s in self.states.items() if not s.HasField("trigger_value")}
        while True:
            run = await self.finished.get()
            if run.errors:
                raise RuntimeError("; ".join(run.errors))
            if run.status == DONE and until(run):
                await self._fetch_images(run)
                return run

    async def upload(self, label: str, name: str, data: bytes, until) -> Run:
        """Put a file in the uploader whose label starts with `label`, as a browser's drop does,
        and rerun."""
        uploader = self.run_widget(label)
        request_id = uuid.uuid4().hex
        answered = self._urls[request_id] = asyncio.get_running_loop().create_future()
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.file_names.append(name)
        message.file_urls_request.session_id = self.session_id
        await self.socket.send(message.SerializeToString())
        urls: FileURLs = (await answered).file_urls[0]
        token = self.http.cookies.get(XSRF_COOKIE, "")
        answer = await self.http.put(
            urls.upload_url, files={"file": (name, data)}, headers={"X-Xsrftoken": token}
        )
        answer.raise_for_status()
        # The browser deletes the file it replaces: the server keeps each upload until then.
        if (replaced := self.states.get(uploader.id)) is not None:
            for old in replaced.file_uploader_state_value.uploaded_file_info:
                gone = await self.http.delete(
                    old.file_urls.delete_url, headers={"X-Xsrftoken": token}
                )
                gone.raise_for_status()
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        self._state(uploader.id).file_uploader_state_value.uploaded_file_info.append(info)
        return await self.rerun(until)

    async def set_slider(self, label: str, value: float, until) -> Run:
        slider = self.run_widget(label)
        self._state(slider.id).double_array_value.data[:] = [value]
        return await self.rerun(until)

    async def choose(self, label: str, until, **value) -> Run:
        """Set a selectbox's or a radio's option (string_value="turbo") or a toggle's
        (bool_value=False), as a click does, and rerun."""
        widget = self.run_widget(label)
        state = self._state(widget.id)
        for name, given in value.items():
            setattr(state, name, given)
        return await self.rerun(until)

    async def click(self, label: str, until) -> Run:
        """Click the button whose label starts with `label`, and rerun."""
        self._state(self.run_widget(label).id).trigger_value = True
        return await self.rerun(until)

    async def go(self, path: str, until) -> Run:
        """Open another page by its URL path ("compare", "folder"), as the sidebar's link does;
        the session's widgets keep their states, as in a browser."""
        self.page_hash = self.pages[path]
        return await self.rerun(until)

    def run_widget(self, label: str):
        """The last run's widget whose label starts with `label`."""
        return next(w for name, w in self.last_run.widgets.items() if name.startswith(label))

    def _state(self, widget_id: str):
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=widget_id)
        self.states[widget_id] = state
        return state

    async def _fetch_images(self, run: Run) -> None:
        """The pictures, fetched as the browser does once a run has named them."""
        fetched = [self.http.get(url) for _, url in run.images if url.startswith("/")]
        for answer in await asyncio.gather(*fetched):
            answer.raise_for_status()

    async def _read(self) -> None:
        async for data in self.socket:
            message = ForwardMsg()
            message.ParseFromString(data)
            self._take(message)

    def _take(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.session_id = message.new_session.initialize.session_id or self.session_id
            self.page_hash = message.new_session.page_script_hash
            self.run = Run()
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._element(message.delta.new_element)
        elif kind == "navigation":
            for page in message.navigation.app_pages:
                self.pages[page.url_pathname] = page.page_script_hash
        elif kind == "file_urls_response":
            answer = message.file_urls_response
            self._urls.pop(answer.response_id).set_result(answer)
        elif kind == "script_finished":
            self.run.status = message.script_finished
            self.last_run = self.run
            if self.run.status == DONE:  # as the browser does: only the widgets on screen
                shown = {widget.id for widget in self.run.widgets.values()}
                self.states = {k: s for k, s in self.states.items() if k in shown}
            self.finished.put_nowait(self.run)

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind in ("file_uploader", "slider", "radio", "selectbox", "checkbox", "button"):
            widget = getattr(element, kind)
            self.run.widgets[widget.label] = widget
        elif kind in ("markdown", "heading", "alert"):
            self.run.texts.append(getattr(element, kind).body)
        elif kind == "exception":
            self.run.errors.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "imgs":
            self.run.images += [(image.caption, image.url) for image in element.imgs.imgs]
