"""The demo model: a Llama-architecture decoder (RMSNorm, SwiGLU, RoPE in the Hugging Face
"rotate-half" layout, grouped-query attention, tied embeddings), in plain PyTorch 1.13 so Debian's
python3-torch runs it. Parameter names are Hugging Face's LlamaForCausalLM names, so the saved
safetensors + config.json form an HF folder that the app's own loader reads (export.ts)."""
import json
import math
import os
import struct
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class RMSNorm(nn.Module):
    def __init__(self, n: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(c: Config, n: int):
    d = c.head_dim
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(torch.arange(n, dtype=torch.float64), inv)
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        d = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * d, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * d, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * d, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * d, c.hidden_size, bias=False)
        self.keep = None  # query head whose attention probabilities forward() keeps in .probs (training's attention supervision)
        self.probs = None

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        c, d = self.c, self.c.head_dim
        q = self.q_proj(x).view(B, T, c.num_attention_heads, d).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.num_key_value_heads, d).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # GQA without copying K/V: the g query heads of a KV group are stacked along the rows.
        g = c.num_attention_heads // c.num_key_value_heads
        q = q.reshape(B, c.num_key_value_heads, g * T, d)
        s = (q @ k.transpose(-1, -2)).view(B, c.num_key_value_heads, g, T, T) * (1.0 / math.sqrt(d)) + mask
        p = torch.softmax(s, dim=-1)
        if self.keep is not None:
            self.probs = p.view(B, c.num_attention_heads, T, T)[:, self.keep]
        y = p.view(B, c.num_key_value_heads, g * T, T) @ v
        return self.o_proj(y.view(B, c.num_attention_heads, T, d).transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class Llama(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        cos, sin = rope_tables(c, 2 * c.max_position_embeddings)  # prompts of the full context plus their answers
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                # GPT-2's scaled init for the residual projections.
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * c.num_hidden_layers) if name.endswith(('o_proj.weight', 'down_proj.weight')) else std)

    def forward(self, ids, positions=None):
        """Logits [B, T, V], or [N, V] at `positions` (a [N] index into the flattened B·T rows) —
        training scores only a subset of rows, which saves most of the vocabulary projection."""
        B, T = ids.shape
        x = self.model.embed_tokens(ids)
        cos, sin = self.cos[:T], self.sin[:T]
        mask = torch.full((T, T), float('-inf')).triu(1)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        if positions is not None:
            x = x.reshape(B * T, -1)[positions]
        return x @ self.model.embed_tokens.weight.t()  # tied embeddings


def mimetic_init(model: Llama, gen: torch.Generator, gamma: float = 0.05) -> None:
    """Mimetic initialisation (Trockman & Kolter 2023, "Mimetic Initialization of Self-Attention
    Layers", arXiv:2305.09828): every head starts with W_q W_k^T and W_v W_o close to (scaled)
    identities on a random 32-dim subspace -- attend to similar content, pass it on unchanged -- the
    shape trained heads take. Copying (induction) needs exactly these two maps, and learning them from
    a 0.02-std start over a 4 096-piece vocabulary is the plateau runs 1-3 never left
    (docs/demo-model.md); from this start a 2-layer probe's repeat loss left chance within 100 steps.
    Shapes: v_proj/k_proj [kv_heads*d, hidden], q_proj/o_proj [heads*d, hidden] / [hidden, heads*d]."""
    c, d = model.c, model.c.head_dim
    g = c.num_attention_heads // c.num_key_value_heads
    with torch.no_grad():
        for layer in model.model.layers:
            a = layer.self_attn
            for kv in range(c.num_key_value_heads):
                v = torch.randn(d, c.hidden_size, generator=gen) / math.sqrt(c.hidden_size)
                k = torch.randn(d, c.hidden_size, generator=gen) / math.sqrt(c.hidden_size)
                a.v_proj.weight[kv * d:(kv + 1) * d] = v
                a.k_proj.weight[kv * d:(kv + 1) * d] = k
                for h in range(kv * g, (kv + 1) * g):
                    a.q_proj.weight[h * d:(h + 1) * d] = k
                    a.o_proj.weight[:, h * d:(h + 1) * d] = gamma * v.t()


def save_hf_folder(model: Llama, path: str, extra: dict) -> None:
    """config.json + model.safetensors (F32), Hugging Face LlamaForCausalLM names."""
    os.makedirs(path, exist_ok=True)
    c = model.c
    cfg = dict(asdict(c), architectures=['LlamaForCausalLM'], model_type='llama', hidden_act='silu', tie_word_embeddings=True,
               bos_token_id=1, eos_token_id=2, head_dim=c.head_dim, torch_dtype='float32', **extra)
    with open(os.path.join(path, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    # safetensors by hand (8-byte little-endian header size, JSON header, raw data): the format is
    # that small, and Debian has no python3-safetensors.
    tensors = {k: v.detach().contiguous().float().numpy() for k, v in model.state_dict().items()}
    header, off = {}, 0
    for k, a in tensors.items():
        header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(os.path.join(path, 'model.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for a in tensors.values():
            f.write(a.tobytes())
