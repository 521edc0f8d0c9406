# MFNet RGB-T (9 classes, 'unlabeled' included, 480x640), converted from the release by
#   python tools/dataset_converters/mfnet.py data/ir_seg_dataset data/MFNet
# to data/MFNet/{RGB/*.png, Thermal/*.png, Label/*.png, train.txt, val.txt, test.txt}.
# The thermal image takes the place of depth (8-bit, read as it is, repeated to 3 channels).
# NYUDepthv2's pipelines, normalisation (the second modality uses DFormer's depth statistics) and loaders,
# with the thermal image read in place of depth.
_base_ = './nyu_depth_v2.py'
dataset_type = 'MFNetDataset'
data_root = 'data/MFNet'
_step_args = dict(LoadDepthFromFile=dict(modality='thermal'))
train_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.train_pipeline}}]
test_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.test_pipeline}}]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
