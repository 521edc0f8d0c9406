# NYUDepthv2's data settings with the training crop of the ScanNet-v2, Stanford-2D-3D-S and Cityscapes-RGBD
# configs (not a data set on its own): crops with cat_max_ratio 0.75, then photometric distortion.
_base_ = './nyu_depth_v2.py'
train_pipeline = [dict(step, cat_max_ratio=0.75) if step['type'] == 'RandomCrop' else step
                  for step in {{_base_.train_pipeline}}]
train_pipeline.insert([step['type'] for step in train_pipeline].index('RandomCrop') + 1,
                      dict(type='PhotoMetricDistortion'))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
