"`download_checked` and `mnist_path` against a local HTTP server: the cache only ever holds a complete, verified file"
import hashlib, io, threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import numpy as np, pytest
from fastai.data.external import fastai_cfg
import fastai_lsuv.study.data as data
from fastai_lsuv.study.data import download_checked, mnist_path

pytestmark = pytest.mark.timeout(60)

def _npz_bytes():
    buf = io.BytesIO()
    np.savez(buf, x_train=np.arange(2*28*28, dtype=np.uint8).reshape(2,28,28), y_train=np.array([3,7], dtype=np.uint8))
    return buf.getvalue()

payload = _npz_bytes()
payload_sha = hashlib.sha256(payload).hexdigest()

class Handler(BaseHTTPRequestHandler):
    "`/good.npz`: the fixture; `/error`: a 500; `/truncated`: half the announced bytes; `/stall`: headers, then nothing"
    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path=='/error': return self.send_error(500, 'broken on purpose')
        self.send_response(200)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        if self.path=='/good.npz': self.wfile.write(payload)
        elif self.path=='/truncated': self.wfile.write(payload[:len(payload)//2])
        elif self.path=='/stall': self.server.release.wait(30)
    def log_message(self, *args): pass

@pytest.fixture
def server():
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads,srv.requests,srv.release = True,[],threading.Event()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}', srv
    srv.release.set()
    srv.shutdown(); srv.server_close()
    thread.join(10)

download = partial(download_checked, timeout=5, show_progress=False)

def test_success(server, tmp_path):
    url,_ = server
    dest = tmp_path/'cache'/'mnist.npz'
    assert download(f'{url}/good.npz', dest, payload_sha, show_progress=True)==dest
    assert dest.read_bytes()==payload
    assert [p.name for p in dest.parent.iterdir()]==['mnist.npz']
    with np.load(dest) as f: assert f['y_train'].tolist()==[3,7]

@pytest.mark.parametrize('path,sha,error,msg', [
    ('/good.npz', '0'*64, ValueError, 'sha256'),
    ('/truncated', payload_sha, (OSError, ValueError), '127.0.0.1'),
    ('/error', payload_sha, OSError, '500'),
    ('/stall', payload_sha, OSError, 'timed out')], ids=['hash mismatch', 'truncated', 'server error', 'stalled server'])
def test_failure_leaves_nothing(server, tmp_path, path, sha, error, msg):
    url,_ = server
    dest = tmp_path/'mnist.npz'
    with pytest.raises(error, match=msg): download_checked(f'{url}{path}', dest, sha, timeout=0.5, show_progress=False)
    assert list(tmp_path.iterdir())==[]

def test_failure_keeps_previous_file(server, tmp_path):
    url,_ = server
    dest = tmp_path/'mnist.npz'
    dest.write_bytes(b'previous')
    with pytest.raises(ValueError): download(f'{url}/good.npz', dest, '0'*64)
    assert dest.read_bytes()==b'previous' and list(tmp_path.iterdir())==[dest]

@pytest.fixture
def fastai_home(tmp_path, monkeypatch):
    "fastai's data folder in `tmp_path`, and no `$FASTAI_LSUV_MNIST`"
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'fastai'))
    monkeypatch.delenv(data.mnist_env, raising=False)
    fastai_cfg.cache_clear()
    yield tmp_path/'fastai'
    fastai_cfg.cache_clear()

def test_mnist_path_downloads_once_into_fastai_data(server, fastai_home, monkeypatch):
    url,srv = server
    monkeypatch.setattr(data, 'mnist_url', f'{url}/good.npz')
    monkeypatch.setattr(data, 'mnist_sha256', payload_sha)
    path = mnist_path()
    assert path.read_bytes()==payload and path.parent==fastai_cfg().path('data')
    assert mnist_path()==path and srv.requests==['/good.npz']

def test_mnist_path_order(server, fastai_home, monkeypatch, tmp_path):
    url,srv = server
    monkeypatch.setattr(data, 'mnist_url', f'{url}/error')
    cached = fastai_cfg().path('data')/'mnist.npz'
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(payload)
    given,env = tmp_path/'given.npz',tmp_path/'env.npz'
    given.write_bytes(payload); env.write_bytes(payload)
    assert mnist_path()==cached
    monkeypatch.setenv(data.mnist_env, str(env))
    assert mnist_path()==env
    assert mnist_path(given)==given
    assert srv.requests==[]
    monkeypatch.delenv(data.mnist_env)
    cached.unlink()
    with pytest.raises(OSError, match='500'): mnist_path()
    assert srv.requests==['/error'] and not cached.exists()
