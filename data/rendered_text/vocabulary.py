"""The words drawn into the set: real English and Chinese words that many pictures share, and made-up ones that
one picture alone holds, so that searching a word has one right answer.

Made-up English words are built from syllables (pronounceable, like the names of shops, people and products a
library is full of) and no two share their first five letters, so no stemmer can make one match another.
One-picture Chinese words are names of people (surname and given name) and of places and shops (two characters
and a suffix such as 路 or 书店); none is a substring of another.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ENGLISH: dict[str, tuple[str, ...]] = {
    "items": _words(
        "coffee bread milk butter cheese apples bananas oranges tomatoes potatoes onions carrots rice pasta sugar "
        "flour salt pepper eggs chicken beef fish yogurt juice water tea cookies chocolate soap shampoo tissues "
        "batteries candles notebook pencil envelope stamps lemon garlic honey olive cereal noodles salad sandwich "
        "muffin bagel croissant latte espresso"
    ),
    "interface": _words(
        "File Edit View Insert Format Tools Window Help Settings Search Open Save Close Delete Copy Paste Undo Redo "
        "Share Export Import Print Preview Zoom Refresh Inbox Drafts Sent Archive Trash Favorites Recent Documents "
        "Downloads Desktop Music Profile Account Logout Username Password Submit Cancel Options Preferences Update "
        "Status Ready Loading Connected Offline Online Network Storage Memory Battery Volume Display Language "
        "Keyboard Printer Calendar Contacts Notes"
    ),
    "slides": _words(
        "Agenda Overview Summary Results Revenue Growth Strategy Roadmap Timeline Budget Goals Team Customers "
        "Market Product Launch Quarter Review Plan Risks Next Steps Questions Introduction Background Method "
        "Analysis Conclusion Findings Metrics Targets Sales Costs Profit Forecast Design Research Training Quality "
        "Support Partners Pricing Feedback Progress Priorities Lessons"
    ),
    "signs": _words(
        "EXIT ENTRANCE STOP OPEN CLOSED PARKING SMOKING DANGER CAUTION PRIVATE PUSH PULL WELCOME TOILETS SALE CAFE "
        "BAKERY PHARMACY HOTEL STATION PLATFORM STREET AVENUE ROAD SQUARE PARK MUSEUM LIBRARY SCHOOL HOSPITAL "
        "POLICE TAXI BUS TICKETS INFORMATION EMERGENCY KEEP LEFT RIGHT SLOW ONLY STAFF"
    ),
    "general": _words(
        "garden window river mountain summer winter morning evening village harbor castle forest island bridge "
        "tower holiday family friends birthday wedding kitchen office meeting report project letter picture travel "
        "ticket weather yellow purple silver golden quiet happy simple modern classic fresh daily weekly special "
        "natural local global public central northern southern"
    ),
}
RECEIPT_WORDS = _words("INVOICE RECEIPT TOTAL SUBTOTAL TAX CASH CARD CHANGE THANK YOU DATE")

CHINESE = _words(
    "天气 学校 老师 学生 朋友 家庭 工作 公司 电脑 手机 电话 时间 今天 明天 昨天 早上 晚上 中午 "
    "城市 国家 世界 历史 文化 音乐 电影 新闻 报纸 杂志 图书馆 医院 医生 银行 超市 商店 饭店 餐厅 "
    "咖啡 牛奶 面包 米饭 水果 苹果 香蕉 西瓜 葡萄 鸡蛋 蔬菜 猪肉 牛肉 鸡肉 茶叶 啤酒 果汁 矿泉水 "
    "蛋糕 饺子 面条 包子 火车 飞机 汽车 地铁 公交车 自行车 出租车 机场 车站 火车站 停车场 出口 "
    "入口 电梯 楼梯 洗手间 办公室 会议室 教室 宿舍 厨房 客厅 卧室 花园 公园 广场 街道 马路 河流 "
    "大海 森林 草地 天空 太阳 月亮 星星 春天 夏天 秋天 冬天 温度 下雨 下雪 阳光 生日 节日 春节 "
    "中秋节 周末 假期 旅行 旅游 护照 地图 酒店 房间 钥匙 价格 数量 合计 总计 发票 收据 日期 金额 "
    "现金 信用卡 找零 谢谢 欢迎 光临 营业 会议 报告 项目 计划 目标 结果 问题 方法 市场 产品 服务 "
    "客户 销售 利润 成本 预算 数据 分析 系统 网络 软件 文件 编辑 视图 插入 格式 工具 帮助 设置 "
    "窗口 保存 打开 关闭 删除 复制 粘贴 搜索 下载 上传 登录 注册 用户 密码 首页 消息 通知 邮件 "
    "联系人 日历 视频 音量 电池 安全 注意 禁止 吸烟 小心 地滑 危险 紧急 通道 消防 学习 考试 作业 "
    "课程 数学 语文 英语 物理 化学 体育 美术 健康 运动 足球 篮球 游泳 跑步 比赛 冠军 快乐 幸福 "
    "美丽 安静 热闹 重要 简单 方便 便宜 新鲜 干净 特价 优惠 打折 免费 会员 积分 菜单 饮料 早餐 "
    "午餐 晚餐 外卖 订单 快递 包裹 地址 北京 上海 广州 深圳 杭州 南京 成都 武汉 西安 重庆 长江 "
    "黄河 长城 熊猫 老虎 小狗 小猫 兔子 大象 孩子 父母 爷爷 奶奶 哥哥 姐姐 弟弟 妹妹 总结 介绍 "
    "背景 讨论 建议 进度 团队 培训 质量 支持 合作 反馈 下一步"
)
CHINESE_INTERFACE = _words("文件 编辑 视图 插入 格式 工具 帮助 设置 窗口 搜索 首页 消息")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红鹏飞辉建文斌宇浩凯晨瑞欣怡"
    "佳琳雪梅婷倩雨昊博轩然宁思梦琪悦涵晓海春志东峰亮鑫阳"
)
_PLACE_SUFFIXES = _words("路 街 公园 书店 超市 中学 大厦 广场 花园 饭店 医院 小区")

_ONSETS = _words("b d f g k l m n p r s t v z br dr fl gr kl pl st tr sk sn ch sh")
_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "ai", "ou")
_CODAS = ("", "", "", "n", "r", "l", "m", "s", "x")


def english_key(word: str) -> str:
    """What a stemmer could make of a word: its first five letters (a short word without a plural s)."""
    lowered = word.lower()
    return lowered[:5] if len(lowered) >= 5 else lowered.removesuffix("s")


class Vocabulary:
    """Hands out words; a made-up word or one-picture Chinese word is handed out once per set."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._english_keys = {english_key(word) for words in ENGLISH.values() for word in words}
        self._english_keys |= {english_key(word) for word in RECEIPT_WORDS}
        self._issued_zh: list[str] = []

    def made_up(self) -> str:
        """A pronounceable word that is no real word of the set and shares no stem with any word handed out."""
        while True:
            syllables = self.rng.choice((2, 3, 3))
            word = "".join(self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(syllables))
            word += self.rng.choice(_CODAS)
            key = english_key(word)
            if 5 <= len(word) <= 11 and key not in self._english_keys:
                self._english_keys.add(key)
                return word

    def real(self, category: str) -> str:
        return self.rng.choice(ENGLISH[category])

    def common_zh(self) -> str:
        return self.rng.choice(CHINESE)

    def person_zh(self) -> str:
        return self._unique_zh(lambda: self.rng.choice(_SURNAMES) + "".join(self.rng.sample(_GIVEN, 2)))

    def place_zh(self) -> str:
        return self._unique_zh(lambda: "".join(self.rng.sample(_GIVEN, 2)) + self.rng.choice(_PLACE_SUFFIXES))

    def unique_zh(self) -> str:
        return self.person_zh() if self.rng.random() < 0.5 else self.place_zh()

    def _unique_zh(self, make: Callable[[], str]) -> str:
        while True:
            word = make()
            clash = any(word in other or other in word for other in self._issued_zh)
            if not clash and not any(word in common for common in CHINESE):
                self._issued_zh.append(word)
                return word
