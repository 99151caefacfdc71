// The box tool (templates/labeler/includes/box_tool.html): draw, select, move, resize and delete
// boxes on the item's image with a mouse, a finger or the keyboard, each box with its label.
// The answer is the hidden "answer" input: JSON [{label, x, y, w, h}] in the image's own
// (natural) pixels, x, y its top-left corner — qc/answers.py's format.
//
// Loading this module sets up every [data-box-tool] on the page; initBoxTools(root) does it
// again for markup swapped in later (work.js). Each tool's controller is `element.boxTool`.

const MIN_SIZE = 4; // natural pixels: a smaller drag is a click, not a box
const HANDLES = ["nw", "ne", "sw", "se"];

function fill(pattern, values) {
  return pattern.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : ""));
}

function round(value) {
  return Math.round(value * 10) / 10;
}

function clean(boxes, labels) {
  if (!Array.isArray(boxes)) return [];
  return boxes
    .filter((b) => b && typeof b === "object" && ["x", "y", "w", "h"].every((k) => Number.isFinite(b[k])))
    .map((b) => ({
      label: labels.includes(b.label) ? b.label : labels[0],
      x: Math.max(0, b.x),
      y: Math.max(0, b.y),
      w: Math.max(1, b.w),
      h: Math.max(1, b.h),
    }));
}

class BoxTool {
  constructor(root) {
    this.root = root;
    this.input = root.querySelector("[data-boxes-input]");
    this.stage = root.querySelector("[data-box-stage]");
    this.image = this.stage.querySelector("img");
    this.layer = root.querySelector("[data-box-layer]");
    this.list = root.querySelector("[data-box-list]");
    this.count = root.querySelector("[data-box-count]");
    this.announcer = root.querySelector("[data-box-announce]");
    this.nextSelect = root.querySelector("[data-box-next]");
    this.deleteButton = root.querySelector("[data-box-delete]");
    this.text = { ...root.querySelector("[data-box-strings]").dataset };
    this.labels = Array.from(this.nextSelect.options, (o) => o.value);
    this.selected = -1;
    this.drag = null;
    const initial = root.querySelector('script[type="application/json"]');
    this.pending = initial ? JSON.parse(initial.textContent) : null;
    this.boxes = [];

    this.stage.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.stage.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.stage.addEventListener("pointerup", (e) => this.pointerUp(e));
    this.stage.addEventListener("pointercancel", (e) => this.pointerUp(e));
    this.stage.addEventListener("keydown", (e) => this.keyDown(e));
    root.querySelector("[data-box-add]").addEventListener("click", () => this.addDefault());
    this.deleteButton.addEventListener("click", () => this.remove(this.selected));
    if (this.image.complete && this.image.naturalWidth) this.ready();
    else this.image.addEventListener("load", () => this.ready(), { once: true });
  }

  get width() {
    return this.image.naturalWidth || 1;
  }

  get height() {
    return this.image.naturalHeight || 1;
  }

  ready() {
    // Boxes to start from (a previous answer, or the project's pre-label) need the image's
    // size to be kept inside it.
    this.boxes = clean(this.pending, this.labels).map((b) => this.clamp(b));
    this.pending = null;
    this.render(true);
  }

  // -- the model ---------------------------------------------------------------------------

  clamp(box) {
    const w = Math.min(Math.max(box.w, 1), this.width);
    const h = Math.min(Math.max(box.h, 1), this.height);
    return {
      label: box.label,
      x: Math.min(Math.max(box.x, 0), this.width - w),
      y: Math.min(Math.max(box.y, 0), this.height - h),
      w,
      h,
    };
  }

  add(box) {
    this.boxes.push(this.clamp(box));
    this.selected = this.boxes.length - 1;
    this.render(true);
    this.say(this.text.added, this.selected);
  }

  addDefault() {
    // A quarter of the image, centred, with the label chosen for new boxes; then the keyboard
    // moves and resizes it.
    const w = this.width / 4;
    const h = this.height / 4;
    this.add({ label: this.nextSelect.value, x: (this.width - w) / 2, y: (this.height - h) / 2, w, h });
    this.stage.focus();
  }

  remove(index) {
    if (index < 0 || index >= this.boxes.length) return;
    this.boxes.splice(index, 1);
    this.selected = -1;
    this.render(true);
    this.say(this.text.deleted, index);
  }

  select(index, { announce = false } = {}) {
    this.selected = index;
    this.render(false);
    if (announce && index >= 0) this.say(this.text.selected, index);
  }

  /** Keys 1–9: the label of the selected box, or (none selected) of the next box drawn. */
  setClass(position) {
    const label = this.labels[position];
    if (label === undefined) return;
    if (this.selected >= 0) {
      this.boxes[this.selected].label = label;
      this.render(true);
      this.say(this.text.relabeled, this.selected);
    } else {
      this.nextSelect.value = label;
    }
  }

  say(pattern, index) {
    const box = this.boxes[index];
    this.announcer.textContent = fill(pattern, { n: index + 1, label: box ? box.label : "" });
  }

  // -- drawing ---------------------------------------------------------------------------------

  render(listToo) {
    this.input.value = JSON.stringify(
      this.boxes.map((b) => ({ label: b.label, x: round(b.x), y: round(b.y), w: round(b.w), h: round(b.h) })),
    );
    this.layer.replaceChildren(
      ...this.boxes.map((box, index) => {
        const el = document.createElement("div");
        el.className = "box" + (index === this.selected ? " box-selected" : "");
        el.dataset.index = index;
        el.style.left = `${(box.x / this.width) * 100}%`;
        el.style.top = `${(box.y / this.height) * 100}%`;
        el.style.width = `${(box.w / this.width) * 100}%`;
        el.style.height = `${(box.h / this.height) * 100}%`;
        const tag = document.createElement("span");
        tag.className = "box-tag";
        tag.textContent = `${index + 1} ${box.label}`;
        el.append(tag);
        if (index === this.selected) {
          for (const corner of HANDLES) {
            const handle = document.createElement("span");
            handle.className = `box-handle box-handle-${corner}`;
            handle.dataset.corner = corner;
            el.append(handle);
          }
        }
        return el;
      }),
    );
    this.deleteButton.disabled = this.selected < 0;
    this.count.textContent = String(this.boxes.length);
    if (listToo) this.renderList();
    else this.markList();
  }

  renderList() {
    this.list.replaceChildren(
      ...this.boxes.map((box, index) => {
        const n = index + 1;
        const item = document.createElement("li");
        item.className = "box-row";
        const name = document.createElement("span");
        name.className = "box-name";
        name.textContent = fill(this.text.box, { n });
        const select = document.createElement("select");
        select.setAttribute("aria-label", fill(this.text.labelOf, { n }));
        for (const label of this.labels) select.add(new Option(label, label, false, label === box.label));
        select.addEventListener("change", () => {
          this.boxes[index].label = select.value;
          this.selected = index;
          this.render(false);
          this.updateRow(index);
        });
        const where = document.createElement("span");
        where.className = "box-where";
        const choose = document.createElement("button");
        choose.type = "button";
        choose.className = "button-small";
        choose.textContent = fill(this.text.select, { n });
        choose.addEventListener("click", () => {
          this.select(index, { announce: true });
          this.stage.focus();
        });
        const drop = document.createElement("button");
        drop.type = "button";
        drop.className = "button-small button-danger";
        drop.textContent = fill(this.text.delete, { n });
        drop.addEventListener("click", () => this.remove(index));
        item.append(name, select, where, choose, drop);
        return item;
      }),
    );
    if (!this.boxes.length) {
      const empty = document.createElement("li");
      empty.className = "box-row box-none";
      empty.textContent = this.text.none;
      this.list.append(empty);
    }
    this.boxes.forEach((_, index) => this.updateRow(index));
    this.markList();
  }

  updateRow(index) {
    const row = this.list.children[index];
    const box = this.boxes[index];
    if (!row || !box) return;
    row.querySelector(".box-where").textContent =
      `x ${Math.round(box.x)}, y ${Math.round(box.y)}, ${Math.round(box.w)} × ${Math.round(box.h)}`;
    const select = row.querySelector("select");
    if (select.value !== box.label) select.value = box.label;
  }

  markList() {
    Array.from(this.list.children).forEach((row, index) => {
      row.classList.toggle("box-row-selected", index === this.selected);
      const choose = row.querySelector("button");
      if (choose) choose.setAttribute("aria-pressed", String(index === this.selected));
      this.updateRow(index);
    });
  }

  // -- the pointer (mouse, pen, touch) ---------------------------------------------------------

  point(event) {
    const rect = this.image.getBoundingClientRect();
    return {
      x: Math.min(Math.max(((event.clientX - rect.left) / rect.width) * this.width, 0), this.width),
      y: Math.min(Math.max(((event.clientY - rect.top) / rect.height) * this.height, 0), this.height),
    };
  }

  pointerDown(event) {
    if (event.button !== 0 || !this.image.naturalWidth) return;
    event.preventDefault();
    this.stage.focus({ preventScroll: true });
    const at = this.point(event);
    const handle = event.target.closest("[data-corner]");
    const boxEl = event.target.closest(".box");
    if (handle && boxEl) {
      const box = this.boxes[Number(boxEl.dataset.index)];
      // Resizing keeps the opposite corner where it is.
      const corner = handle.dataset.corner;
      const anchor = {
        x: corner.includes("w") ? box.x + box.w : box.x,
        y: corner.includes("n") ? box.y + box.h : box.y,
      };
      this.drag = { mode: "span", index: Number(boxEl.dataset.index), anchor };
    } else if (boxEl) {
      const index = Number(boxEl.dataset.index);
      const box = this.boxes[index];
      this.select(index, { announce: true });
      this.drag = { mode: "move", index, offset: { x: at.x - box.x, y: at.y - box.y } };
    } else {
      this.boxes.push({ label: this.nextSelect.value, x: at.x, y: at.y, w: 0, h: 0 });
      this.selected = this.boxes.length - 1;
      this.drag = { mode: "span", index: this.selected, anchor: at, drawing: true };
    }
    this.stage.setPointerCapture(event.pointerId);
  }

  pointerMove(event) {
    if (!this.drag) return;
    event.preventDefault();
    const at = this.point(event);
    const box = this.boxes[this.drag.index];
    if (this.drag.mode === "move") {
      Object.assign(box, this.clamp({ ...box, x: at.x - this.drag.offset.x, y: at.y - this.drag.offset.y }));
    } else {
      const { anchor } = this.drag;
      Object.assign(box, {
        x: Math.min(anchor.x, at.x),
        y: Math.min(anchor.y, at.y),
        w: Math.abs(at.x - anchor.x),
        h: Math.abs(at.y - anchor.y),
      });
    }
    this.render(false);
  }

  pointerUp(event) {
    if (!this.drag) return;
    const { index, drawing } = this.drag;
    this.drag = null;
    if (this.stage.hasPointerCapture(event.pointerId)) this.stage.releasePointerCapture(event.pointerId);
    const box = this.boxes[index];
    if (drawing && (box.w < MIN_SIZE || box.h < MIN_SIZE)) {
      // A click on the empty image: no box, and nothing selected.
      this.boxes.splice(index, 1);
      this.selected = -1;
      this.render(true);
      return;
    }
    this.boxes[index] = this.clamp(box);
    this.render(true);
    if (drawing) this.say(this.text.added, index);
  }

  // -- the keyboard (focus on the image) -------------------------------------------------------

  keyDown(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const digit = /^[1-9]$/.test(event.key) ? Number(event.key) - 1 : -1;
    if (digit >= 0) {
      this.setClass(digit);
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    if (this.selected < 0) return;
    if (event.key === "Delete" || event.key === "Backspace") {
      this.remove(this.selected);
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    event.stopPropagation();
    const step = Math.max(1, Math.round(this.width / 100));
    const box = this.boxes[this.selected];
    const [dx, dy] = move;
    const next = event.shiftKey
      ? { ...box, w: Math.max(1, box.w + dx * step), h: Math.max(1, box.h + dy * step) }
      : { ...box, x: box.x + dx * step, y: box.y + dy * step };
    this.boxes[this.selected] = this.clamp(next);
    this.render(false);
  }
}

/** Set up every box tool under ``root`` not yet set up; returns the first one's controller. */
export function initBoxTools(root = document) {
  const tools = root.matches?.("[data-box-tool]") ? [root] : Array.from(root.querySelectorAll("[data-box-tool]"));
  for (const el of tools) {
    if (!el.boxTool) el.boxTool = new BoxTool(el);
  }
  return tools.length ? tools[0].boxTool : null;
}

initBoxTools();
