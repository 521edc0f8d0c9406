"""tools/dataset_converters/depth2hha.py: files and folders, intrinsics files, bad input."""
import os

import cv2
import numpy as np
import pytest

from script_loading import load_script

tool = load_script('tools/dataset_converters/depth2hha.py', 'depth2hha_tool')
K = [[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]]


def floor_and_wall_mm(h=48, w=64):
    """16-bit millimetres of a camera 1 m above a floor, looking horizontally at a wall 4 m away
    (the floor fills the rows below 38)."""
    v = (np.arange(h, dtype=np.float64)[:, None] - 23.5) / 60.0
    floor = np.where(v > 0, 1.0 / np.maximum(v, 1e-9), np.inf)
    depth = np.minimum(np.broadcast_to(floor, (h, w)), 4.0)
    return np.rint(depth * 1000).astype(np.uint16)


def test_folder_with_a_matrix_file(tmp_path):
    depth_dir = tmp_path / 'Depth'
    depth_dir.mkdir()
    for name in ('a', 'b'):
        cv2.imwrite(str(depth_dir / f'{name}.png'), floor_and_wall_mm())
    np.savetxt(tmp_path / 'K.txt', K)
    tool.main([str(depth_dir), str(tmp_path / 'HHA'), '--intrinsics', str(tmp_path / 'K.txt')])
    hha = cv2.imread(str(tmp_path / 'HHA' / 'a.png'))[:, :, ::-1]  # R, G, B = disparity, height, angle
    assert sorted(os.listdir(tmp_path / 'HHA')) == ['a.png', 'b.png']
    assert hha[5, 32, 0] == round(310 / 4.0) and abs(int(hha[5, 32, 2]) - 128) <= 1  # wall: 4 m, 90 degrees
    assert abs(int(hha[5, 32, 1]) - round(100 * (1.0 + (23.5 - 5) / 60 * 4.0))) <= 2  # its height in cm
    assert abs(int(hha[44, 32, 2]) - 38) <= 1 and hha[44, 32, 1] <= 2  # floor: 0 degrees, height 0


def test_one_file_with_four_numbers_and_float_metres(tmp_path):
    depth = floor_and_wall_mm().astype(np.float32) / 1000
    np.save(tmp_path / 'd.npy', depth)
    tool.main([str(tmp_path / 'd.npy'), str(tmp_path / 'out.png'), '--intrinsics', '60', '60', '31.5', '23.5'])
    cv2.imwrite(str(tmp_path / 'd.png'), floor_and_wall_mm())
    tool.main([str(tmp_path / 'd.png'), str(tmp_path / 'ref.png'), '--intrinsics', '60', '60', '31.5', '23.5'])
    assert np.array_equal(cv2.imread(str(tmp_path / 'out.png')), cv2.imread(str(tmp_path / 'ref.png')))


def run_error(argv):
    with pytest.raises(SystemExit) as info:
        tool.main(argv)
    return str(info.value.code)


def test_bad_input_names_the_file(tmp_path):
    good = str(tmp_path / 'good.png')
    cv2.imwrite(good, floor_and_wall_mm())
    np.savetxt(tmp_path / 'K23.txt', np.ones((2, 3)))
    message = run_error([good, str(tmp_path / 'o'), '--intrinsics', str(tmp_path / 'K23.txt')])
    assert 'error: intrinsics file' in message and 'K23.txt' in message and 'shape (2, 3)' in message
    zero = str(tmp_path / 'zero.png')
    cv2.imwrite(zero, np.zeros((8, 8), np.uint16))
    message = run_error([zero, str(tmp_path / 'o'), '--intrinsics', '60', '60', '4', '4'])
    assert message.startswith('error: depth file') and 'zero.png' in message and '0 (missing) everywhere' in message
    nan = np.ones((8, 8), np.float32)
    nan[2, 2] = np.nan
    cv2.imwrite(str(tmp_path / 'nan.tiff'), nan)
    message = run_error([str(tmp_path / 'nan.tiff'), str(tmp_path / 'o'), '--intrinsics', '60', '60', '4', '4'])
    assert 'nan.tiff' in message and 'NaN' in message
    eight_bit = str(tmp_path / 'vis.png')
    cv2.imwrite(eight_bit, np.full((8, 8), 100, np.uint8))
    message = run_error([eight_bit, str(tmp_path / 'o'), '--intrinsics', '1', '1', '0', '0'])
    assert 'vis.png' in message and 'not an 8-bit visualisation' in message
    assert 'give one file or 4 numbers' in run_error([good, str(tmp_path / 'o'), '--intrinsics', 'a', 'b'])
