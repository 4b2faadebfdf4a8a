"""The demo trainer's task-aligned assignment (tools.train_demo.AlignedLoss) on hand-made
head outputs: who becomes a positive, with which target, and that the loss trains a head."""

from __future__ import annotations

import torch

from engine.metrics import box_iou
from tools.train_demo import NA, NC, STRIDES, AlignedLoss, box_iou_cxcywh

IMGSZ = 128
ANCHORS = torch.tensor([[10, 10], [20, 12], [12, 20], [30, 30], [50, 30], [30, 50], [70, 70], [100, 60], [60, 100.0]])


def zero_heads(batch: int = 1) -> list[torch.Tensor]:
    """All-zero logits: every anchor predicts a box of its own size centred on its cell."""
    return [torch.zeros(batch, NA, IMGSZ // s, IMGSZ // s, NC + 5) for s in STRIDES]


def assigned(loss: AlignedLoss, heads: list[torch.Tensor], targets: torch.Tensor):
    pbox, plog, sizes = loss.decode(heads, loss.anchors)
    return (*loss.assign(heads, pbox, plog, targets), pbox, sizes)


def level_of(n: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    return torch.bucketize(n, torch.cumsum(torch.tensor(sizes), 0), right=True)


def test_the_anchor_that_predicts_the_box_exactly_is_a_positive_with_full_quality():
    loss = AlignedLoss(ANCHORS, IMGSZ)
    # cell (5, 5) of stride 8 is centred on (44, 44); its second anchor is 20 x 12
    target = torch.tensor([[0, 1, 44.0, 44.0, 20.0, 12.0]])
    b, n, t, q, pbox, sizes = assigned(loss, zero_heads(), target)
    assert 0 < len(n) <= loss.topk and (t == 0).all() and (b == 0).all()
    exact = (1 * 16 + 5) * 16 + 5  # anchor 1, row 5, column 5 of level 0
    assert exact in n.tolist()
    assert q[n == exact].item() == torch.tensor(1.0).item()  # quality = alignment / best * best IoU (1)
    ious = box_iou_cxcywh(pbox[0, n], target[:, 2:6])
    assert (q <= ious + 1e-6).all()  # no positive's target exceeds its own IoU


def test_a_box_smaller_than_a_cell_still_gets_positives():
    loss = AlignedLoss(ANCHORS, IMGSZ)
    # spans 61.5-66.5: no cell centre of any level (4 + 8j, 8 + 16j, 16 + 32j) lies inside it
    target = torch.tensor([[0, 2, 64.0, 64.0, 5.0, 5.0]])
    b, n, t, q, _, sizes = assigned(loss, zero_heads(), target)
    assert len(n) > 0 and (q > 0).all()


def test_anchor_shapes_more_than_anchor_t_away_are_never_positives():
    loss = AlignedLoss(ANCHORS, IMGSZ, topk=10_000)  # no top-k cut: only the shape rule can exclude
    target = torch.tensor([[0, 1, 64.0, 64.0, 100.0, 24.0]])  # 5x wider than every stride-8 anchor
    _, n, _, _, _, sizes = assigned(loss, zero_heads(), target)
    assert len(n) > 0 and (level_of(n, sizes) > 0).all()


def test_an_anchor_serves_at_most_one_box_and_each_box_at_most_topk():
    loss = AlignedLoss(ANCHORS, IMGSZ, topk=4)
    targets = torch.tensor([[0, 0, 40.0, 40.0, 30.0, 30.0], [0, 1, 46.0, 44.0, 30.0, 26.0],
                            [1, 2, 80.0, 70.0, 60.0, 40.0], [1, 2, 20.0, 100.0, 12.0, 20.0]])
    b, n, t, q, _, _ = assigned(loss, zero_heads(2), targets)
    pairs = (b * 10**6 + n).tolist()
    assert len(pairs) == len(set(pairs))
    assert torch.bincount(t, minlength=4).max() <= 4
    assert set(t.tolist()) == {0, 1, 2, 3}  # every box is served
    assert (b == targets[t, 0].long()).all()  # by anchors of its own image


def test_no_targets_leaves_only_the_objectness_loss():
    loss = AlignedLoss(ANCHORS, IMGSZ)
    total, parts = loss(zero_heads(2), torch.zeros(0, 6))
    assert parts[0] == 0 and parts[2] == 0 and parts[1] > 0 and torch.isfinite(total)


def test_the_loss_trains_free_head_outputs_into_a_detection():
    torch.manual_seed(0)
    loss = AlignedLoss(ANCHORS, IMGSZ)
    heads = [(torch.randn_like(h) * 0.5).requires_grad_() for h in zero_heads()]
    target = torch.tensor([[0, 2, 70.0, 50.0, 36.0, 22.0]])
    opt = torch.optim.Adam(heads, lr=0.05)
    first = None
    for _ in range(150):
        total, _ = loss(heads, target)
        first = total.item() if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < first / 3
    with torch.no_grad():
        pbox, plog, _ = loss.decode(heads, loss.anchors)
        conf = plog[0, :, 0].sigmoid() * plog[0, :, 1:].sigmoid().max(1)[0]
        best = conf.argmax()
        cx, cy, w, h = pbox[0, best].tolist()
        iou = box_iou(torch.tensor([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]).numpy(),
                      torch.tensor([[52.0, 39.0, 88.0, 61.0]]).numpy())[0, 0]
        assert iou > 0.8 and plog[0, best, 1:].argmax().item() == 2 and conf[best] > 0.5
